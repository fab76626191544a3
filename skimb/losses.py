"""Focal loss on logits, numerically stable for any finite logit."""

import torch
import torch.nn.functional as F
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")


class FocalLoss(nn.BCEWithLogitsLoss):
    r"""Binary focal loss on logits (Lin et al., 2017), with optional positive weight.

    For a logit :math:`x` and a target :math:`t \in [0, 1]`:

    .. math::

        \mathrm{FL}(x, t) = \alpha_t \, (1 - p_t)^{\gamma} \,
        \mathrm{BCE}_w(x, t)

    where :math:`p = \sigma(x)`, :math:`p_t = p t + (1 - p)(1 - t)`,
    :math:`\alpha_t = \alpha t + (1 - \alpha)(1 - t)` and
    :math:`\mathrm{BCE}_w(x, t) = -[w\, t \log \sigma(x) + (1 - t) \log \sigma(-x)]`
    is ``BCEWithLogitsLoss`` with ``pos_weight=w``.

    Every term is computed from log-sigmoids, in float32 at least, so the loss and its
    gradient are finite for any finite logit, also under autocast. The modulating
    factor :math:`(1 - p_t)^\gamma` is computed as
    :math:`\exp(\gamma \log(1 - p_t))` with :math:`\log(1 - p_t)` from log-sigmoids,
    never as :math:`\exp(-\mathrm{BCE})`, which is wrong once the BCE term carries a
    positive weight.

    It subclasses :class:`torch.nn.BCEWithLogitsLoss` so that skorch recognises it and
    ``predict_proba`` applies a sigmoid; ``pos_weight`` is a buffer that can be changed
    in place between epochs.

    Parameters
    ----------
    alpha : float in [0, 1] or None, default=0.25
        Weight of the positive class in the :math:`\alpha_t` term; ``None`` drops the
        term.
    gamma : float >= 0, default=2.0
        Focusing parameter. ``gamma=0`` and ``alpha=None`` give plain BCE.
    pos_weight : float, tensor or None, default=None
        Weight of the positive term inside the BCE, as in ``BCEWithLogitsLoss``.
        With ``None`` the loss equals :func:`torchvision.ops.sigmoid_focal_loss`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the elementwise losses are reduced.

    References
    ----------
    Lin, Goyal, Girshick, He, Dollar. "Focal Loss for Dense Object Detection",
    ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from skimb.losses import FocalLoss
    >>> loss = FocalLoss(alpha=0.25, gamma=2.0)
    >>> logits = torch.tensor([3.0, -2.0, 0.5])
    >>> targets = torch.tensor([1.0, 0.0, 1.0])
    >>> round(float(loss(logits, targets)), 4)
    0.0061
    """

    def __init__(self, alpha=0.25, gamma=2.0, pos_weight=None, reduction="mean"):
        _check_focal_params(alpha, gamma, reduction)
        if pos_weight is not None:
            # A Python number keeps its float64 value; it is cast to the logits'
            # dtype in forward.
            if not isinstance(pos_weight, torch.Tensor):
                pos_weight = torch.tensor(pos_weight, dtype=torch.float64)
            if not bool(torch.all(pos_weight > 0)):
                raise ValueError(f"pos_weight must be > 0, got {pos_weight.tolist()}")
        super().__init__(reduction=reduction, pos_weight=pos_weight)
        self.alpha = alpha
        self.gamma = float(gamma)

    def forward(self, input, target):
        if input.shape != target.shape:
            target = target.reshape(input.shape)
        loss = focal_loss_terms(
            input,
            target,
            alpha=self.alpha,
            gamma=self.gamma,
            pos_weight=self.pos_weight,
        )
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def extra_repr(self):
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


def focal_loss_terms(logits, targets, alpha=0.25, gamma=2.0, pos_weight=None):
    """Elementwise focal loss (no reduction); see :class:`FocalLoss` for the formula."""
    # Autocast may hand us bf16/fp16 logits: log-sigmoids of large logits lose all
    # precision there, so compute in at least float32.
    dtype = torch.promote_types(logits.dtype, torch.float32)
    x = logits.to(dtype)
    t = targets.to(dtype)
    log_p = F.logsigmoid(x)  # log sigma(x)
    log_1mp = F.logsigmoid(-x)  # log (1 - sigma(x)), stable for large |x|
    weight = 1.0 if pos_weight is None else pos_weight.to(dtype)
    bce = -(weight * t * log_p + (1 - t) * log_1mp)
    if gamma == 0:
        modulating = torch.ones_like(bce)
    else:
        # log(1 - p_t) = log(t * (1 - p) + (1 - t) * p). The logaddexp keeps it
        # finite for soft targets; log(0) = -inf for hard ones is absorbed by it.
        log_1m_pt = torch.logaddexp(torch.log(t) + log_1mp, torch.log1p(-t) + log_p)
        modulating = torch.exp(gamma * log_1m_pt)
    loss = modulating * bce
    if alpha is not None:
        alpha_t = alpha * t + (1 - alpha) * (1 - t)
        loss = alpha_t * loss
    return loss


def _check_focal_params(alpha, gamma, reduction):
    if alpha is not None and not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
        raise ValueError(f"alpha must be None or a float in [0, 1], got {alpha!r}")
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or gamma < 0:
        raise ValueError(f"gamma must be a float >= 0, got {gamma!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} is not one of {_REDUCTIONS}")


def weighted_loss(criterion, logits, targets, weights):
    """Mean of each row's loss times its weight (``sample_weight``, normalised to mean
    1 over the fit), for any criterion with a ``reduction`` attribute."""
    per_row = elementwise_loss(criterion, logits, targets)
    return (per_row.reshape(-1) * weights).mean()


def elementwise_loss(criterion, logits, targets):
    """``criterion``'s loss of every entry, unreduced (``reduction="none"`` for the
    call), for any criterion with a ``reduction`` attribute."""
    if not hasattr(criterion, "reduction"):
        raise ValueError(
            f"sample_weight needs a criterion with a `reduction` attribute (as torch "
            f"losses have), got {type(criterion).__name__}"
        )
    reduction = criterion.reduction
    criterion.reduction = "none"
    try:
        return criterion(logits, targets)
    finally:
        criterion.reduction = reduction
