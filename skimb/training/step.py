"""The per-batch numerics: logits of one network or of an ensemble's members, the
loss with row weights, and mixed precision."""

import torch
from skorch.dataset import unpack_data

from ..losses import weighted_loss
from ..modules.ensembles import ensemble_size
from .runtime import device_type

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def scaled_input(net, x):
    """A batch on the net's device, with the fitted feature scaling applied."""
    if not isinstance(x, torch.Tensor):
        return x
    if net.device is not None:  # None: placement is left to the caller (accelerate)
        x = x.to(net.device, non_blocking=True)
    scaler = getattr(net, "scaler_", None)
    return x if scaler is None else scaler.transform(x)


def forward_logits(net, forward):
    """``forward()``'s logits as :func:`member_logits`, under ``torch.autocast``
    when ``net.precision`` asks for mixed precision (the logits then go on as
    float32: the loss and NumPy need it)."""
    dtype = AUTOCAST_DTYPES.get(net.precision)
    members = ensemble_size(net.module_)
    if dtype is None:
        return member_logits(forward(), members)
    with torch.autocast(device_type(net.device), dtype=dtype):
        logits = member_logits(forward(), members)
    return logits.float()


def member_logits(y_infer, members=1):
    """The module's logits as (n,), or (n, k) for a module that declares an
    ensemble of ``members`` = k (:mod:`skimb.modules.ensembles`)."""
    if isinstance(y_infer, tuple):
        y_infer = y_infer[0]
    if y_infer.ndim == 2 and y_infer.shape[1] == 1:
        return y_infer.reshape(-1)
    if y_infer.ndim == 1 or (y_infer.ndim == 2 and y_infer.shape[1] == members):
        return y_infer
    raise ValueError(
        "the module must return one logit a row, shape (n,) or (n, 1), for binary "
        f"classification, got shape {tuple(y_infer.shape)}"
        + (f" (it declares ensemble_size={members})" if members > 1 else "")
        + "; a module whose output is one logit per ensemble member, (n, k), "
        "declares it with an attribute ensemble_size = k "
        "(skimb.modules.ensembles)"
    )


def batch_loss(net, y_pred, y_true, unweighted_loss, packing=None, training=False):
    """The loss of a batch: float32 logits against the targets, every ensemble
    member on every row, each row's loss times its sample weight when the targets
    carry one (``(target, weight)`` pairs); ``unweighted_loss(y_pred, y_true)``
    (skorch's) otherwise. The members of a packed bag (``packing``) each on the
    rows it trains on (``training``) or is validated on
    (:meth:`skimb.packing.members.MemberRows.loss`)."""
    if isinstance(y_true, torch.Tensor):
        # device=None (accelerate): the targets go where the logits are
        device = y_pred.device if net.device is None else net.device
        y_true = y_true.to(device, non_blocking=True)
    y_pred = y_pred.float()  # under autocast the logits may be half precision
    if packing is not None:
        return packing.loss(net.criterion_, y_pred, y_true, training)
    weights = None
    if isinstance(y_true, torch.Tensor) and y_true.ndim == 2:
        y_true, weights = y_true[:, 0], y_true[:, 1]
    if y_pred.ndim == 2:
        y_true = _per_member(y_true, y_pred)
        weights = None if weights is None else _per_member(weights, y_pred)
    if weights is not None:
        return weighted_loss(net.criterion_, y_pred, y_true, weights)
    return unweighted_loss(y_pred, y_true)


def _per_member(values, member_logits):
    """Row values (n,) repeated for each ensemble member, as (n, k)."""
    return values.reshape(-1, 1).expand_as(member_logits)


def gradient_scaler(net):
    """The ``GradScaler`` of ``precision="fp16"`` on CUDA (kept as
    ``net.grad_scaler_``), else None."""
    if net.precision != "fp16" or device_type(net.device) != "cuda":
        return None
    if getattr(net, "grad_scaler_", None) is None:
        net.grad_scaler_ = torch.amp.GradScaler("cuda")
    return net.grad_scaler_


class MixedPrecisionSteps:
    """Mixin for a skorch ``NeuralNet``: with ``precision="fp16"`` on CUDA, the loss
    is scaled before the backward pass and the optimizer steps through the
    ``GradScaler`` (fp16 gradients underflow otherwise); skorch's steps else."""

    def train_step_single(self, batch, **fit_params):
        scaler = gradient_scaler(self)
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn):
        scaler = gradient_scaler(self)
        if scaler is None:
            return super()._step_optimizer(step_fn)
        step_fn()
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return None
