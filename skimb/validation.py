"""Validation scores from the validation pass the loss already makes.

skorch computes ``valid_loss`` batch by batch; every validation batch's logits reach
the callbacks in ``on_batch_end``. :class:`ValidationScores` keeps them and scores the
epoch from them, so ROC-AUC, average precision, F1 and the log loss cost no second
pass over the validation rows (skorch's ``EpochScoring`` would call ``predict_proba``
once per score).
"""

import numpy as np
import torch
from skorch.callbacks import Callback

from .data.batches import BatchRows
from .data.index import chunk_bounds
from .prior import corrected_proba
from .thresholds import RankCurve, counts_at, curve_of, tuned_threshold

SCORES = ("valid_roc_auc", "valid_ap", "valid_f1", "valid_acc", "valid_log_loss")


class ValidationScores(Callback):
    """Record ``valid_roc_auc``, ``valid_ap``, ``valid_f1``, ``valid_acc`` and
    ``valid_log_loss``.

    All five are computed from the logits of the epoch's validation batches, with
    the net's prior correction for the weight in force
    (:meth:`ImbalancedNetClassifier.logit_shift`) and the rows' sample weights when
    ``fit`` was given some. ``valid_log_loss`` is the plain (unweighted by class) log
    loss of the corrected probabilities, comparable across epochs whatever the
    positive weight does. ``valid_f1`` is F1 at the fixed ``threshold`` or, with
    ``threshold="f1"``, at the threshold tuned on these rows
    (:func:`skimb.thresholds.tuned_threshold`). A split holding one class only
    scores NaN. ``valid_acc`` is the accuracy at the threshold ``valid_f1`` uses
    (skorch's ``NeuralNetBinaryClassifier`` logs it by default; with rare positives
    it says little: predicting every row negative scores the negatives' share).
    """

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        rows = None if dataset_valid is None else len(dataset_valid)
        self.rows_ = ScoredRows(rows)

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training or y_pred is None:
            return
        self.rows_.add(y_pred, batch[1])

    def on_epoch_end(self, net, **kwargs):
        rows, self.rows_ = self.rows_, None
        if not len(rows):
            return  # no validation split
        # The probabilities are this epoch's own: sorted in place by the curve, no
        # second copy.
        y_true, proba, weights = rows.scored(net.logit_shift(net.weight_in_force()))
        scores = score_predictions(
            y_true, proba, weights, threshold=net.threshold, overwrite_proba=True
        )
        for name, value in scores.items():
            net.history.record(name, value)


def score_predictions(
    y_true, proba, sample_weight=None, threshold="f1", overwrite_proba=False
):
    """The five validation scores of ``proba`` against 0/1 ``y_true``, as a dict.

    One sort serves them all (:func:`skimb.thresholds.curve_of`); they equal
    scikit-learn's ``roc_auc_score``, ``average_precision_score``, ``f1_score``,
    ``accuracy_score`` and ``log_loss`` (tested), without their input
    validation, which cost more than the training step on small data.
    ``overwrite_proba``: a float64 ``proba`` the caller lets go is sorted in place
    (no copy of it over a large split).
    """
    y_true = _flags(y_true)
    if sample_weight is not None and not np.sum(sample_weight) > 0:
        return dict.fromkeys(SCORES, float("nan"))  # no class has any weight
    # First: it reads the probabilities in their rows' order.
    loss = log_loss(y_true, proba, sample_weight)
    curve = curve_of(y_true, proba, sample_weight, overwrite_proba)
    if not curve.has_both_classes:
        return dict.fromkeys(SCORES, float("nan"))
    if threshold == "f1":
        threshold = tuned_threshold(y_true, proba, sample_weight, curve=curve)
    if isinstance(curve, RankCurve):  # from its counts: proba may be sorted now
        counts = curve.counts_at(threshold)
    else:
        counts = counts_at(y_true, proba, threshold, sample_weight)
    return {
        "valid_roc_auc": curve.roc_auc(),
        "valid_ap": curve.average_precision(),
        "valid_f1": counts.f1(),
        "valid_acc": counts.accuracy(),
        "valid_log_loss": loss,
    }


def log_loss(y_true, proba, sample_weight=None):
    """Mean binary log loss, probabilities clipped to [1e-7, 1 - 1e-7].

    Taken ``SCAN_ROWS`` rows at a time: no copy of the probabilities (8 bytes a
    row over a large validation split). Up to that many rows the sum is numpy's
    own, in one piece."""
    positive, proba = _flags(y_true), np.asarray(proba, dtype=np.float64)
    total, weight = 0.0, 0.0
    for first, last in chunk_bounds(proba.size):
        rows = slice(first, last)
        losses = np.clip(proba[rows], 1e-7, 1 - 1e-7)  # a chunk's copy
        # In place, class by class.
        np.log(losses, out=losses, where=positive[rows])
        negative = ~positive[rows]
        np.negative(losses, out=losses, where=negative)
        np.log1p(losses, out=losses, where=negative)
        if sample_weight is None:
            total, weight = total + losses.sum(), weight + losses.size
        else:
            w = np.asarray(sample_weight)[rows]
            total, weight = total + np.multiply(losses, w).sum(), weight + w.sum()
    return float(-(total / weight))


class ScoredRows:
    """The logits and targets of a pass over rows, batch by batch, and then the
    rows' ``(0/1 flags, corrected probabilities, row weights or None)``: what the
    validation scores (:class:`ValidationScores`) and the tuned threshold
    (``ImbalancedNetClassifier``'s pass after training) are computed from.

    Over a validation split of millions of rows: the logits are gathered as float64
    and become the probabilities where they are (8 bytes a row, where float32
    logits and a float64 copy took 12), the targets as 1-byte flags without
    weights (not float32), each into one array of the announced ``n_rows``
    (:class:`~skimb.data.batches.BatchRows`).
    """

    def __init__(self, n_rows):
        self.logits = BatchRows(n_rows, np.float64)
        self.targets = BatchRows(n_rows)

    def add(self, logits, targets):
        """A batch's logits, ``(n,)`` or ``(n, k)`` for the members of an ensemble,
        and its targets, ``(n,)`` or ``(n, 2)`` with the rows' sample weights."""
        logits = _numpy(logits)
        self.logits.add(logits)
        targets = _numpy(targets).reshape(len(logits), -1)
        # Without weights, 0/1 flags (1 byte a row, not 4); with them, both columns.
        self.targets.add(targets[:, 0] > 0.5 if targets.shape[1] == 1 else targets)

    def __len__(self):
        """Rows added so far."""
        return self.logits.filled

    def scored(self, shift):
        """``(flags, probabilities corrected by the logit ``shift``, weights or
        None)`` of the rows added (at least one). The gathered rows are handed
        over: call it once."""
        logits, targets = self.logits.array(), self.targets.array()
        self.logits = self.targets = None
        proba = corrected_proba(logits, shift, overwrite_logits=True)
        if targets.ndim == 1:
            return targets, proba, None
        weights = targets[:, 1] if targets.shape[1] > 1 else None
        return targets[:, 0] > 0.5, proba, weights


def _flags(y_true):
    y_true = np.asarray(y_true)
    return y_true if y_true.dtype == bool else y_true > 0.5


def _numpy(values):
    """``values`` as a NumPy float array on the CPU, float32 kept as it is."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        if not values.dtype.is_floating_point or values.dtype.itemsize < 4:
            values = values.to(torch.float64)  # float16 / bfloat16 logits too
        return values.numpy()
    values = np.asarray(values)
    return (
        values
        if values.dtype.kind == "f" and values.itemsize >= 4
        else values.astype(np.float64)
    )
