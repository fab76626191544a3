"""Strategies for the weight of the positive class.

Every strategy maps binary labels (1 = positive, 0 = negative) to one float, the
``pos_weight`` of ``BCEWithLogitsLoss`` / :class:`skimb.losses.FocalLoss`.
"""

import numbers

import numpy as np

POS_WEIGHT_NAMES = ("balanced", "sqrt")


def class_counts(y):
    """Return ``(n_neg, n_pos)`` of binary labels (positives are the truthy values).

    Examples
    --------
    >>> class_counts([0, 1, 0, 0])
    (3, 1)
    """
    y = np.asarray(y)
    n_pos = int(np.count_nonzero(y))
    return int(y.size - n_pos), n_pos


def balanced(y):
    """``n_neg / n_pos``: each class contributes the same total weight.

    Examples
    --------
    >>> balanced([0, 0, 0, 1])
    3.0
    """
    n_neg, n_pos = _counts_with_both_classes(y)
    return n_neg / n_pos


def sqrt(y):
    """``sqrt(n_neg / n_pos)``: a milder correction than :func:`balanced`.

    Examples
    --------
    >>> sqrt([0, 0, 0, 0, 1])
    2.0
    """
    return float(np.sqrt(balanced(y)))


def effective_number(beta=0.999):
    r"""Return the class-balanced weight of Cui et al. (2019) as a callable ``f(y)``.

    The effective number of samples of a class with :math:`n_c` samples is
    :math:`(1 - \beta^{n_c}) / (1 - \beta)`; its class weight is the inverse,
    :math:`w_c = (1 - \beta) / (1 - \beta^{n_c})`, and the positive weight is
    :math:`w_{pos} / w_{neg}`. ``beta=0`` gives 1 (no reweighting); ``beta -> 1``
    approaches :func:`balanced`.

    Parameters
    ----------
    beta : float in [0, 1), default=0.999
        Hyperparameter of the effective number.

    Returns
    -------
    callable
        ``f(y) -> float`` usable as ``pos_weight``.

    References
    ----------
    Cui, Jia, Lin, Song, Belongie. "Class-Balanced Loss Based on Effective Number of
    Samples", CVPR 2019.

    Examples
    --------
    >>> f = effective_number(beta=0.99)
    >>> round(f([0] * 900 + [1] * 100), 3)
    1.577
    """
    if not isinstance(beta, numbers.Real) or not 0 <= beta < 1:
        raise ValueError(f"beta must be a float in [0, 1), got {beta!r}")
    return _EffectiveNumber(float(beta))


class _EffectiveNumber:
    # A class rather than a closure so that estimators holding it pickle and clone.
    def __init__(self, beta):
        self.beta = beta

    def __call__(self, y):
        n_neg, n_pos = _counts_with_both_classes(y)
        if self.beta == 0:
            return 1.0
        # w_c = (1 - beta) / (1 - beta^n_c); -expm1(n log beta) = 1 - beta^n, accurately
        log_beta = np.log(self.beta)
        return float(-np.expm1(n_neg * log_beta) / -np.expm1(n_pos * log_beta))

    def __repr__(self):
        return f"effective_number(beta={self.beta})"

    def __eq__(self, other):
        return isinstance(other, _EffectiveNumber) and other.beta == self.beta

    def __hash__(self):
        return hash(("effective_number", self.beta))


def resolve_pos_weight(pos_weight, y):
    """Turn a ``pos_weight`` setting into a float, given binary labels ``y``.

    Parameters
    ----------
    pos_weight : None, float > 0, "balanced", "sqrt" or callable
        ``None`` means 1.0 (no reweighting); a float is used as given; a name or a
        callable is evaluated on ``y``.
    y : array-like of 0/1
        The labels the weight is computed on.

    Returns
    -------
    float

    Examples
    --------
    >>> resolve_pos_weight("balanced", [0, 0, 0, 0, 1])
    4.0
    >>> resolve_pos_weight(None, [0, 1])
    1.0
    """
    if pos_weight is None:
        return 1.0
    check_pos_weight(pos_weight)
    if pos_weight == "balanced":
        weight = balanced(y)
    elif pos_weight == "sqrt":
        weight = sqrt(y)
    elif callable(pos_weight):
        weight = pos_weight(np.asarray(y))
    else:
        weight = pos_weight
    return check_pos_weight_value(weight, source=pos_weight)


def check_pos_weight(pos_weight):
    """Raise unless ``pos_weight`` is a valid setting: None, a name, a callable or
    a finite float > 0."""
    if pos_weight is None or callable(pos_weight) or pos_weight in POS_WEIGHT_NAMES:
        return
    if isinstance(pos_weight, str):
        raise ValueError(
            f"pos_weight={pos_weight!r} is not one of None, a float > 0, "
            f"{', '.join(map(repr, POS_WEIGHT_NAMES))} or a callable f(y) -> float"
        )
    check_pos_weight_value(pos_weight)


def check_pos_weight_value(weight, source=None):
    """Return ``weight`` as a float, or raise if it is not a finite number > 0."""
    shown = (
        f"pos_weight={source!r} gave {weight!r}"
        if callable(source)
        else (f"pos_weight={weight!r}")
    )
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"{shown}; expected a float > 0")
    if not np.isfinite(weight) or weight <= 0:
        raise ValueError(f"{shown}; pos_weight must be a finite float > 0")
    return float(weight)


def _counts_with_both_classes(y):
    n_neg, n_pos = class_counts(y)
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"cannot compute a class weight from {n_neg} negative(s) and {n_pos} "
            "positive(s): both classes must be present in the training rows"
        )
    return n_neg, n_pos


def check_sample_weight(sample_weight, n_rows):
    """``sample_weight`` as float64 with mean 1, or None; raises on a bad one."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_rows,):
        raise ValueError(
            f"sample_weight must have shape ({n_rows},), one weight per row, "
            f"got shape {weights.shape}"
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        bad = weights[~np.isfinite(weights) | (weights < 0)][:5].tolist()
        raise ValueError(
            f"sample_weight must be finite and >= 0, got values such as {bad}"
        )
    if weights.sum() <= 0:
        raise ValueError("sample_weight must not be all zero")
    return weights / weights.mean()
