"""The fit of a packed bag: one network's fit of the packed module, then the
out-of-fold scores its threshold is tuned on."""

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from skorch.history import History

from ..data.split import fold_of_rows
from ..modules import network_of
from ..training.inputs import training_data
from .callbacks import MemberSelection, out_of_fold_proba
from .members import EveryRow, MemberRows
from .module import PackedBag


@dataclass
class PackedFit:
    """What a packed fit hands the bag (:mod:`skimb.bagging`)."""

    #: the fitted clone that trained the packed module (its history, callbacks)
    net: object
    module: PackedBag
    pos_weights: list
    best_epochs: list
    histories: list
    #: ``(0/1 flags, out-of-fold probabilities, row weights or None)``
    scores: tuple


def fit_packed(net, X, y, sample_weight, bags, fold_seed, encoded_by, fit_params):
    """Fit the ``bags`` networks of ``net``'s bag on ``(X, y)`` as one packed
    module, on the stratified folds of ``fold_seed`` (those of the sequential bag),
    and return a :class:`PackedFit`. ``encoded_by``: the bag's table encoder, as a
    sequential bag's networks get it."""
    keyword = network_of(net).packed_members
    packed = clone(net).set_params(
        bagging=None,
        train_split=EveryRow(),
        checkpoint=net.checkpoint,  # one fit, one checkpoint
        **{f"module__{keyword}": bags},
    )
    # The rows as the fit checks and encodes them: the folds are drawn from these
    # labels, as a sequential bag's FoldSplit draws them.
    X_checked, y01, weights = training_data(
        packed, X, y, sample_weight, reset=True, encoded_by=encoded_by
    )
    folds = fold_of_rows(y01, bags, fold_seed)
    rows = MemberRows(folds, bags)
    packed.callbacks = net.callbacks  # the user's instances, as a network's fit
    packed.fit_scored(
        X,
        y,
        sample_weight=sample_weight,
        encoded_by=encoded_by,
        packing=rows,
        **fit_params,
    )
    selection = dict(packed.callbacks_).get("early_stopping")
    if isinstance(selection, MemberSelection):
        best_epochs = list(selection.best_epochs_)
        stopped = list(selection.stopped_epochs_)
    else:  # no selection: every member at the last epoch
        best_epochs, stopped = [None] * bags, [None] * bags
    # The out-of-fold scores of the selected weights: one pass over every row.
    logits = packed.forward(X_checked, training=False).double().numpy()
    logits = logits.reshape(len(y01), -1)
    proba = out_of_fold_proba(logits, folds.astype(np.int64), rows.logit_shifts)
    return PackedFit(
        net=packed,
        module=PackedBag(packed.module_, packed.scaler_, rows.logit_shifts),
        pos_weights=list(rows.pos_weights),
        best_epochs=best_epochs,
        histories=member_histories(packed.history, stopped),
        scores=(y01 > 0.5, proba, weights),
    )


def member_histories(history, stopped_epochs):
    """Each member's history, as a network of a sequential bag has it: per epoch its
    ``train_loss``, ``valid_loss``, validation scores and ``pos_weight`` (from the
    packed fit's ``history[:, "members"]``), up to the epoch its patience ran out."""
    histories = []
    for j, stopped in enumerate(stopped_epochs):
        member = History()
        for row in history[: stopped or len(history)]:
            if "members" not in row:  # an epoch interrupted before its scores
                break
            member.new_epoch()
            member.record("epoch", row["epoch"])
            for name, value in row["members"][j].items():
                member.record(name, value)
            if "dur" in row:
                member.record("dur", row["dur"])
        histories.append(member)
    return histories
