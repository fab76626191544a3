r"""Prior correction: undo the shift of the class prior that weights and samplers make.

A network trained with positive weight :math:`w` on data whose positives a sampler
presents :math:`r` times as often, relative to the negatives, as they occur, learns
(at the optimum of the weighted log loss) odds that are :math:`w \cdot r` times the
true odds of the training data:

.. math::

    \log\frac{q}{1-q} = \log\frac{p}{1-p} + \log w + \log r.

So the calibrated probability is :math:`p = \sigma(z - \log w - \log r)` for the
network's logit :math:`z`: a constant shift of the logit, which leaves every ranking
metric (ROC-AUC, average precision) unchanged. The focal loss's :math:`\alpha` weighs
positives by :math:`\alpha` and negatives by :math:`1 - \alpha`, a further factor
:math:`\alpha / (1 - \alpha)`. Its :math:`\gamma` term is not a prior shift and is
not undone.

References
----------
Saerens, Latinne, Decaestecker. "Adjusting the Outputs of a Classifier to New a Priori
Probabilities: A Simple Procedure", Neural Computation 14(1), 2002.
"""

import math

import numpy as np
import torch


def odds_distortion(
    pos_weight=1.0, presented_counts=None, true_counts=None, alpha=None
):
    """Log of the factor by which training multiplied the positive odds.

    Parameters
    ----------
    pos_weight : float, default=1.0
        The positive weight in force in the loss.
    presented_counts, true_counts : (n_neg, n_pos) or None
        Class counts one epoch of the sampler shows the loss, and those of the rows
        it samples from. ``None`` (no sampler) means no change.
    alpha : float in [0, 1] or None
        The focal loss's alpha, or ``None`` when it has none. The degenerate 0 and 1,
        which drop a class from the loss, leave nothing to correct and are ignored.

    Returns
    -------
    float
        The shift to subtract from the logits.

    Examples
    --------
    >>> round(odds_distortion(pos_weight=9.0), 4) == round(math.log(9.0), 4)
    True
    >>> odds_distortion(presented_counts=(100, 100), true_counts=(900, 100))
    2.1972245773362196
    >>> odds_distortion(pos_weight=3.0, alpha=0.25)
    0.0
    """
    shift = math.log(pos_weight)
    if presented_counts is not None and true_counts is not None:
        (neg_shown, pos_shown), (neg, pos) = presented_counts, true_counts
        shift += math.log((pos_shown / neg_shown) / (pos / neg))
    if alpha is not None and 0.0 < alpha < 1.0:
        shift += math.log(alpha / (1.0 - alpha))
    return shift


def corrected_proba(logits, shift, overwrite_logits=False):
    """Positive-class probabilities ``sigmoid(logits - shift)``, in float64.

    ``overwrite_logits``: float64 ``logits`` the caller lets go become the
    probabilities where they are (one member; an ensemble's mean is a new array).
    The values are the same as from a copy.

    ``logits`` of shape (n, k) are an ensemble's members: each member's logit is
    corrected, then the members' probabilities are averaged. (Correcting the logit
    of the averaged probability instead would give another, wrong answer: the mean
    of sigmoids is not the sigmoid of a mean.)

    Examples
    --------
    >>> corrected_proba(np.array([0.0, np.log(9.0)]), np.log(9.0)).round(3).tolist()
    [0.1, 0.5]
    >>> corrected_proba(np.array([[0.0, np.log(9.0)]]), np.log(9.0)).round(3).tolist()
    [0.3]
    """
    # One float64 copy (or none), corrected in place: over the validation split
    # of a large table, 8 bytes a row, not 24.
    copy = not (overwrite_logits and isinstance(logits, np.ndarray))
    proba = torch.from_numpy(np.array(logits, dtype=np.float64, copy=copy or None))
    proba.sub_(shift).sigmoid_()
    return (proba.mean(dim=1) if proba.ndim == 2 else proba).numpy()


def member_proba(logits, shift):
    """:func:`corrected_proba` on a torch tensor, in its dtype and on its device
    (``torch.sigmoid`` does not overflow)."""
    proba = torch.sigmoid(logits - shift)
    return proba.mean(dim=1) if proba.ndim == 2 else proba
