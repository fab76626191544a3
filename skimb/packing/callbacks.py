"""Each member of a packed bag scored on its own fold, and its epoch selected."""

import math

import numpy as np
import torch
from skorch.callbacks import Callback

from ..data.batches import BatchRows
from ..prior import corrected_proba
from ..selection import (
    PatienceExhausted,
    beats,
    improved,
    lower_is_better,
    resolve_patience,
    smoothed,
    wins_tie,
)
from ..validation import score_predictions
from .members import FOLD, LABEL, WEIGHT


class MemberScores(Callback):
    """Score each member of a packed bag on the rows of its own fold.

    From the epoch's one validation pass over every row, the ``(n, k)`` logits:
    member ``j``'s ``valid_roc_auc``, ``valid_ap``, ``valid_f1``, ``valid_acc`` and
    ``valid_log_loss`` are those of its column on the rows of fold ``j``, with its
    own prior correction, as :class:`~skimb.validation.ValidationScores` scores a
    network of a sequential bag on its validation fold. They are recorded per
    member in ``history[-1]["members"]`` (a list of ``k`` dicts, with each member's
    ``train_loss``, ``valid_loss`` and ``pos_weight``); the epoch's own
    ``valid_*`` keys score the bag's out-of-fold predictions (every row by the
    member it validates).

    Parameters
    ----------
    rows : MemberRows
        The fit's members and folds.
    """

    def __init__(self, rows):
        self.rows = rows

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        n_rows = None if dataset_valid is None else len(dataset_valid)
        self.logits_ = BatchRows(n_rows, np.float64)
        self.targets_ = BatchRows(n_rows)

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training or y_pred is None:
            return
        self.logits_.add(_numpy(y_pred))
        self.targets_.add(_numpy(batch[1]))

    def on_epoch_end(self, net, **kwargs):
        logits, targets = self.logits_.array(), self.targets_.array()
        self.logits_ = self.targets_ = None
        rows = self.rows
        train_losses = rows.epoch_losses(training=True)
        valid_losses = rows.epoch_losses(training=False)
        folds = targets[:, FOLD].astype(np.int64)
        flags = targets[:, LABEL] > 0.5
        weights = _given_weights(net, targets)
        members = []
        for j in range(rows.n_members):
            own = folds == j
            proba = corrected_proba(logits[own, j], rows.logit_shifts[j])
            scores = score_predictions(
                flags[own],
                proba,
                None if weights is None else weights[own],
                threshold=net.threshold,
                overwrite_proba=True,
            )
            members.append(
                {
                    "train_loss": train_losses[j],
                    "valid_loss": valid_losses[j],
                    **scores,
                    "pos_weight": rows.pos_weights[j],
                }
            )
        proba = out_of_fold_proba(logits, folds, rows.logit_shifts)
        pooled = score_predictions(
            flags, proba, weights, threshold=net.threshold, overwrite_proba=True
        )
        for name, value in pooled.items():
            net.history.record(name, value)
        net.history.record("members", members)


def out_of_fold_proba(logits, folds, logit_shifts):
    """Each row's prior-corrected probability from the member it validates:
    ``sigmoid(logits[r, folds[r]] - logit_shifts[folds[r]])``, float64."""
    own = np.take_along_axis(logits, folds.reshape(-1, 1), axis=1).reshape(-1)
    return corrected_proba(own - np.asarray(logit_shifts)[folds], 0.0)


def _given_weights(net, targets):
    """The rows' weights when ``fit`` was given some (else None: unweighted scores,
    as without sample weights)."""
    plan = net.__dict__.get("_fit_plan")
    if plan is None or plan.sample_weight is None:
        return None
    return targets[:, WEIGHT]


def _numpy(values):
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        if values.dtype != torch.float32:
            values = values.to(torch.float64)
        return values.numpy()
    return np.asarray(values)


class MemberSelection(Callback):
    """Select each member's best epoch, as :class:`~skimb.selection.BestEpoch`
    selects one network's, and restore each member's selected weights at the end.

    Member ``j`` reads its scores in ``history[-1]["members"][j]``
    (:class:`MemberScores`); the rule is BestEpoch's (the smoothed ``monitor``,
    ``min_delta``, the tie on ``tie_monitor``), with a patience of its own. A member
    whose patience has run out is selected no more (its selected weights are put
    back at the end); once two have stopped, training steps compute the others
    alone (:meth:`~.members.MemberRows.train_only`); training ends when every
    member has stopped. The module must hold its members stacked
    on the first dimension of every parameter and buffer (``MLP(members=k)``'s
    layout): member ``j``'s weights are the slices ``[j]``.

    Parameters
    ----------
    rows : MemberRows
        The fit's members and folds (as for :class:`MemberScores`); the members
        it stops are left out of the training steps through it.
    monitor, lower_is_better, patience, smoothing, min_delta, tie_monitor
        As for :class:`~skimb.selection.BestEpoch`.

    Attributes
    ----------
    best_epochs_ : list of int or None
        Each member's selected 1-based epoch (None before one was seen).
    best_scores_, best_tie_scores_, leaders_, smoothed_ : list of float
        Each member's selected (smoothed) score, its tie score, the best score
        seen and the running smoothed score.
    misses_ : list of int
        Epochs since each member's last selection.
    stopped_epochs_ : list of int or None
        The epoch each member's patience ran out (None: still selecting).
    best_weights_ : dict or None
        A state dict of the module whose slice ``[j]`` holds member ``j``'s weights
        at its selected epoch.
    patience_ : int or None
        The resolved patience.
    """

    def __init__(
        self,
        rows,
        monitor="valid_ap",
        lower_is_better=None,
        patience="auto",
        smoothing=0.5,
        min_delta=0.005,
        tie_monitor="valid_loss",
    ):
        self.rows = rows
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.patience = patience
        self.smoothing = smoothing
        self.min_delta = min_delta
        self.tie_monitor = tie_monitor

    def on_train_begin(self, net, **kwargs):
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        check_member_layout(net.module_, self.rows.n_members)
        k = self.rows.n_members
        self.best_epochs_ = [None] * k
        self.best_scores_ = [math.nan] * k
        self.best_tie_scores_ = [math.nan] * k
        self.leaders_ = [math.nan] * k
        self.smoothed_ = [math.nan] * k
        self.misses_ = [0] * k
        self.stopped_epochs_ = [None] * k
        self.best_weights_ = None
        self.patience_ = resolve_patience(self.patience, net)

    def on_epoch_begin(self, net, **kwargs):
        # Members whose patience has run out are trained no more (where the module
        # can leave them out); read from the state, so that a resumed fit does so.
        # (The fit's end trains every member again: ImbalancedNetClassifier._planned.)
        still = [j for j, s in enumerate(self.stopped_epochs_) if s is None]
        self.rows.train_only(still, net.module_)

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        lower = lower_is_better(self.monitor, self.lower_is_better)
        for j, row in enumerate(net.history[-1]["members"]):
            if self.stopped_epochs_[j] is not None:
                continue
            self.smoothed_[j] = smoothed(
                self.smoothed_[j], row.get(self.monitor, math.nan), self.smoothing
            )
            if self.smoothing:
                row[f"{self.monitor}_smoothed"] = self.smoothed_[j]
            tie_score = math.nan
            if self.tie_monitor is not None:
                tie_score = row.get(self.tie_monitor, math.nan)
            score = self.smoothed_[j]
            selected = improved(
                score, self.best_scores_[j], self.min_delta, lower
            ) or wins_tie(
                score,
                tie_score,
                self.leaders_[j],
                self.best_tie_scores_[j],
                self.min_delta,
                lower,
            )
            if beats(score, self.leaders_[j], lower):
                self.leaders_[j] = score
            if selected:
                self.best_scores_[j] = score
                self.best_tie_scores_[j] = tie_score
                self.best_epochs_[j] = epoch
                self._keep(net.module_, j)
                self.misses_[j] = 0
            else:
                self.misses_[j] += 1
            if self.patience_ is not None and self.misses_[j] >= self.patience_:
                self.stopped_epochs_[j] = epoch
        if all(stopped is not None for stopped in self.stopped_epochs_):
            raise PatienceExhausted  # skorch ends training on a KeyboardInterrupt

    def _keep(self, module, j):
        state = module.state_dict()
        if self.best_weights_ is None:
            self.best_weights_ = {
                name: value.detach().clone() for name, value in state.items()
            }
        for name, value in state.items():
            self.best_weights_[name][j].copy_(value[j])

    def on_train_end(self, net, **kwargs):
        if self.best_weights_ is not None:
            state = net.module_.state_dict()
            for j, epoch in enumerate(self.best_epochs_):
                if epoch is None:  # never scored: the weights as they are
                    for name, value in state.items():
                        self.best_weights_[name][j].copy_(value[j])
            net.module_.load_state_dict(self.best_weights_)
        self.best_weights_ = None  # the module holds them now; free the copy
        net.best_epoch_ = self.best_epochs_[-1]


def check_member_layout(module, n_members):
    """Raise unless every parameter and buffer of ``module`` holds ``n_members``
    members on its first dimension."""
    for name, value in module.state_dict().items():
        if value.ndim == 0 or value.shape[0] != n_members:
            raise ValueError(
                f"a packed bag of {n_members} networks needs every parameter and "
                f"buffer of the module stacked member-first (shape ({n_members}, "
                f"...)), but {name!r} has shape {tuple(value.shape)}; declare no "
                "packed_members on the module, or pass bagging__packed=False"
            )
