"""Checks of the classifier's own parameters, run at the start of ``fit``.

Each check raises with the bad value and what would be valid, in the words of the
parameter's documentation.
"""

import numbers

import numpy as np
import torch
from torch.utils.data import Sampler

from .bagging import check_bagging
from .checkpoints import check_checkpoint
from .modules import resolve_module
from .samplers import SAMPLERS
from .scaling import SCALINGS
from .schedules import SCHEDULES, WeightSchedule
from .weights import check_pos_weight

LOSSES = ("bce", "focal")
PRECISIONS = (None, "bf16", "fp16")


def check_params(net):
    """Validate every skimb-specific parameter of ``net``."""
    resolve_module(net.module)  # raises on an unknown name
    _check_choice("loss", net.loss, LOSSES)
    check_pos_weight(net.pos_weight)
    if net.focal_alpha is not None and not (
        _is_real(net.focal_alpha) and 0 <= net.focal_alpha <= 1
    ):
        raise ValueError(
            f"focal_alpha must be None or a float in [0, 1], got {net.focal_alpha!r}"
        )
    if not (_is_real(net.focal_gamma) and net.focal_gamma >= 0):
        raise ValueError(f"focal_gamma must be a float >= 0, got {net.focal_gamma!r}")
    check_strategy("sampler", net.sampler, SAMPLERS, Sampler)
    check_strategy("weight_schedule", net.weight_schedule, SCHEDULES, WeightSchedule)
    _check_device(net.device)
    if net.random_state is not None and (
        isinstance(net.random_state, bool)
        or not isinstance(net.random_state, numbers.Integral)
    ):
        raise ValueError(
            f"random_state must be None or an int, got {net.random_state!r}"
        )
    _check_choice("precision", net.precision, PRECISIONS)
    _check_auto_int("batch_size", net.batch_size, allow=(-1,))
    _check_auto_int("max_epochs", net.max_epochs)
    _check_choice("early_stopping", net.early_stopping, ("auto", True, False))
    if net.early_stopping is True and net.train_split is None:
        raise ValueError(
            "early_stopping=True selects the epoch on the validation split, but "
            "train_split=None; use early_stopping='auto' or False, or a train_split"
        )
    check_bagging(net.bagging, net.get_params_for("bagging"))
    if not net._bags_by_default and net.bagging not in (None, False, 1, "auto"):
        raise ValueError(
            f"{type(net).__name__} trains one model across processes; "
            f"bagging={net.bagging!r} is not supported, use 'auto' or None"
        )
    threshold = net.threshold
    if threshold != "f1" and not (_is_real(threshold) and 0 < threshold < 1):
        raise ValueError(
            f"threshold must be 'f1' or a float in (0, 1), got {threshold!r}"
        )
    if not isinstance(net.prior_correction, (bool, np.bool_)):
        raise ValueError(
            f"prior_correction must be True or False, got {net.prior_correction!r}"
        )
    _check_choice("scaling", net.scaling, SCALINGS)
    _check_choice("progress", net.progress, ("auto", True, False))
    if net.checkpoint is not None:
        check_checkpoint(net.checkpoint)
        if net.warm_start:
            raise ValueError(
                "checkpoint resumes a fit from a fresh module, but warm_start=True "
                "goes on from the fitted one; use one of them"
            )
    if net.lr != "auto" and not (_is_real(net.lr) and net.lr > 0):
        raise ValueError(f"lr must be 'auto' or a float > 0, got {net.lr!r}")
    if net.optimizer != "auto" and not callable(net.optimizer):
        raise ValueError(
            f"optimizer must be 'auto' or a torch optimizer class, got "
            f"{net.optimizer!r}"
        )


def _check_auto_int(name, value, allow=()):
    if value == "auto" or value in allow and not isinstance(value, bool):
        return
    if (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and value > 0
    ):
        return
    extra = "".join(f", {a}" for a in allow)
    raise ValueError(f"{name} must be 'auto' or a positive int{extra}, got {value!r}")


def check_strategy(name, value, names, base):
    """Raise unless ``value`` is None, one of ``names``, or a ``base`` class or
    instance."""
    if value is None or (isinstance(value, str) and value in names):
        return
    if isinstance(value, base) or (isinstance(value, type) and issubclass(value, base)):
        return
    valid = ", ".join(["None"] + [repr(n) for n in names])
    raise ValueError(
        f"{name}={value!r} is not one of {valid}, or a "
        f"{base.__module__}.{base.__name__} class or instance"
    )


def _check_device(device):
    if device == "auto" or device is None:
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not 'auto' or a torch device such as "
            f"'cpu', 'cuda', 'cuda:1' ({error})"
        ) from None


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"{name}={value!r} is not one of {', '.join(map(repr, choices))}"
        )


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
