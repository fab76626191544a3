"""The fit's parts built from the classifier's parameters: module arguments,
optimizer, criterion, weight schedule and callbacks."""

import torch
from skorch.callbacks import (
    EpochTimer,
    GradientNormClipping,
    PassthroughScoring,
    PrintLog,
)

from .._params import check_strategy
from ..checkpoints import FitCheckpoint
from ..losses import FocalLoss
from ..modules import network_of, recipe_of
from ..modules.tables import TableInputs, declares_categorical_inputs, one_hot_width
from ..packing.callbacks import MemberScores, MemberSelection
from ..progress import epoch_bar
from ..schedules import SCHEDULES, WeightSchedule
from ..selection import BestEpoch
from ..validation import ValidationScores
from .signatures import accepts


def module_arguments(net):
    """``(module class or instance, keyword arguments)``: the ``module__*`` options,
    and ``input_dim`` from the fitted input width for a class that takes one (for
    a table with categorical columns: its numeric inputs and the ``cardinalities``
    where the class declares ``categorical_inputs``, else the one-hot width)."""
    kwargs = net.get_params_for("module")
    module = network_of(net)
    if isinstance(module, type) and "input_dim" not in kwargs:
        if accepts(module, "input_dim"):
            if not hasattr(net, "n_features_in_"):
                raise ValueError(
                    "the input size is inferred from X in fit; call fit, "
                    "or pass module__input_dim to initialize before"
                )
            kwargs["input_dim"] = net.n_features_in_
            layout = table_layout(net)
            if layout is not None:
                kwargs["input_dim"] = layout.width
                if layout.cardinalities:
                    kwargs["input_dim"] = one_hot_width(
                        layout.n_numeric, layout.cardinalities
                    )
                    if declares_categorical_inputs(module):
                        kwargs["input_dim"] = layout.n_numeric
                        kwargs.setdefault("cardinalities", layout.cardinalities)
    return module, kwargs


def table_layout(net):
    """The :class:`~skimb.tables.TableLayout` of the table ``net`` is fitted on, or
    None for numeric input."""
    encoder = getattr(net, "table_encoder_", None)
    return None if encoder is None else encoder.layout_


def table_inputs(net, module):
    """``module`` fed from the packed table matrix (:class:`TableInputs`) when the
    table has categorical columns; ``module`` itself otherwise."""
    layout = table_layout(net)
    if layout is None or not layout.cardinalities or isinstance(module, TableInputs):
        return module
    return TableInputs(module, layout.n_numeric, layout.cardinalities)


def recipe_optimizer(net):
    """The optimizer for ``optimizer="auto"`` or ``lr="auto"``: the network's
    :class:`~skimb.modules.Recipe` fills in what the user left open (explicit
    ``optimizer__*`` options win); None when both are given (skorch's own)."""
    if net.optimizer != "auto" and net.lr != "auto":
        return None
    recipe = recipe_of(network_of(net))
    args, kwargs = net.get_params_for_optimizer(
        "optimizer", net.get_all_learnable_params()
    )
    groups = args[0] if args and isinstance(args[0], list) else []
    for options in [kwargs, *(g for g in groups if isinstance(g, dict))]:
        if options.get("lr") == "auto":
            options["lr"] = recipe.lr
    optimizer = net.optimizer
    if optimizer == "auto":
        optimizer = recipe.optimizer
        kwargs = {**recipe.optimizer_options, **kwargs}
        if accepts(optimizer, "fused") and "fused" not in kwargs:
            # One kernel per step instead of a loop over the parameters: the same
            # update at a fraction of the per-step overhead that bounds small
            # networks on the CPU. Where torch has no fused kernel, the default.
            try:
                return optimizer(*args, fused=True, **kwargs)
            except (RuntimeError, ValueError, TypeError):
                pass
    return optimizer(*args, **kwargs)


def loss_criterion(net, members=1):
    """BCE or the focal loss from ``loss``, ``focal_alpha`` and ``focal_gamma``;
    None for a criterion of the user's own (skorch builds it). ``members``: the
    networks of a packed bag, each with its own positive weight."""
    if net.criterion is not torch.nn.BCEWithLogitsLoss:
        return None
    kwargs = net.get_params_for("criterion")
    # The weight is resolved on the training rows once the split is known, and
    # written into this buffer in place, so schedules can change it.
    kwargs.setdefault("pos_weight", torch.ones(members))
    if net.loss == "focal":
        kwargs.setdefault("alpha", net.focal_alpha)
        kwargs.setdefault("gamma", net.focal_gamma)
        return FocalLoss(**kwargs)
    return torch.nn.BCEWithLogitsLoss(**kwargs)


def weight_schedule(net):
    """The weight schedule callback ``weight_schedule`` names, or None."""
    schedule = net.weight_schedule
    if schedule is None:
        return None
    kwargs = net.get_params_for("weight_schedule")
    if isinstance(schedule, str):
        check_strategy("weight_schedule", schedule, SCHEDULES, WeightSchedule)
        return SCHEDULES[schedule](**kwargs)
    if isinstance(schedule, type):
        return schedule(**kwargs)
    return schedule.set_params(**kwargs) if kwargs else schedule


def scoring_callbacks(packing=None):
    """skorch's default callbacks for the classifier: timing, the losses, and the
    validation scores from the validation pass the loss already makes (each
    member's on its own fold for a packed bag's ``packing``)."""
    scores = ValidationScores() if packing is None else MemberScores(packing)
    return [
        ("epoch_timer", EpochTimer()),
        ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
        ("valid_loss", PassthroughScoring(name="valid_loss")),
        ("validation_scores", scores),
    ]


def skimb_callbacks(net, selects_epoch, packing=None):
    """The callbacks skimb adds after skorch's defaults, in the order they must run
    at the end of an epoch: the schedule, the epoch selection that reads the scores,
    gradient clipping, the progress bar, the printed row, then the checkpoint."""
    callbacks = []
    schedule = weight_schedule(net)
    if schedule is not None:
        callbacks.append(("weight_schedule", schedule))
    if selects_epoch:
        options = net.get_params_for("early_stopping")
        selection = (
            BestEpoch(**options)
            if packing is None
            else MemberSelection(packing, **options)
        )
        callbacks.append(("early_stopping", selection))
    clip = recipe_of(network_of(net)).gradient_clip
    if clip is not None and net.optimizer == "auto":
        callbacks.append(("gradient_clipping", GradientNormClipping(clip)))
    bar = epoch_bar(net)
    if bar is not None:
        callbacks.append(("progress_bar", bar))
    # a packed bag's members' rows are in its bag_histories_, not the table
    ignored = None if packing is None else ["members"]
    callbacks.append(("print_log", QuietPrintLog(keys_ignored=ignored)))
    if net.checkpoint is not None:
        # last: it saves what the others have made of the epoch
        callbacks.append(("checkpoint", FitCheckpoint(net.checkpoint)))
    return callbacks


class QuietPrintLog(PrintLog):
    """skorch's epoch table, not even formatted with ``verbose=0`` (skorch formats
    it every epoch and then drops it, a measurable share of a small fit)."""

    def on_epoch_end(self, net, **kwargs):
        if net.verbose:
            super().on_epoch_end(net, **kwargs)


def write_pos_weight(criterion, weight, scheduled):
    """Write ``weight`` into the criterion's ``pos_weight`` buffer, in place (the
    optimizer and its state stay as they are; ``set_params`` would rebuild both).
    A criterion without the buffer can hold only 1, and no ``scheduled`` weight."""
    buffer = getattr(criterion, "pos_weight", None)
    if isinstance(buffer, torch.Tensor):
        buffer.fill_(float(weight))
    elif weight != 1.0 or scheduled:
        raise ValueError(
            f"criterion {type(criterion).__name__} has no "
            "pos_weight buffer to hold a positive weight; use "
            "pos_weight=None or a BCE-style criterion"
        )


def pos_weight_of(criterion):
    """The positive weight ``criterion`` applies now (1.0 if it has none; the mean
    of a packed bag's members' weights)."""
    buffer = getattr(criterion, "pos_weight", None)
    if not isinstance(buffer, torch.Tensor):
        return 1.0
    return float(buffer.reshape(-1)[0]) if buffer.numel() == 1 else buffer.mean().item()
