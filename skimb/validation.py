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

from .data import batches
from .data.batches import BatchRows
from .prior import corrected_proba
from .thresholds import RankCurve, curve_of, f1_at, tuned_threshold

SCORES = ("valid_roc_auc", "valid_ap", "valid_f1", "valid_log_loss")


class ValidationScores(Callback):
    """Record ``valid_roc_auc``, ``valid_ap``, ``valid_f1`` and ``valid_log_loss``.

    All four are computed from the logits of the epoch's validation batches, with
    the net's prior correction for the weight in force
    (:meth:`ImbalancedNetClassifier.logit_shift`) and the rows' sample weights when
    ``fit`` was given some. ``valid_log_loss`` is the plain (unweighted by class) log
    loss of the corrected probabilities, comparable across epochs whatever the
    positive weight does. ``valid_f1`` is F1 at the fixed ``threshold`` or, with
    ``threshold="f1"``, at the threshold tuned on these rows
    (:func:`skimb.thresholds.tuned_threshold`). A split holding one class only
    scores NaN.
    """

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        rows = None if dataset_valid is None else len(dataset_valid)
        # Logits as float64, made the probabilities where they are at the end of
        # the epoch: 8 bytes a validation row, not float32's 4 and a float64 copy.
        self.logits_, self.targets_ = BatchRows(rows, np.float64), BatchRows(rows)

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training or y_pred is None:
            return
        logits = _numpy(y_pred)  # (n,), or (n, k) for the members of an ensemble
        self.logits_.add(logits)
        self.targets_.add(kept_targets(_numpy(batch[1]).reshape(len(logits), -1)))

    def on_epoch_end(self, net, **kwargs):
        logits, targets = self.logits_.array(), self.targets_.array()
        self.logits_ = self.targets_ = None
        if logits is None:
            return  # no validation split
        shift = net.logit_shift(net.weight_in_force())
        proba = corrected_proba(logits, shift, overwrite_logits=True)
        y_true, weights = labels_and_weights(targets)
        # Let the kept batches go before scoring (a weight column is a view that
        # keeps its array); the probabilities are this epoch's own: sorted in
        # place by the curve, no second copy.
        del logits, targets
        scores = score_predictions(
            y_true, proba, weights, threshold=net.threshold, overwrite_proba=True
        )
        for name, value in scores.items():
            net.history.record(name, value)


def score_predictions(
    y_true, proba, sample_weight=None, threshold="f1", overwrite_proba=False
):
    """The four validation scores of ``proba`` against 0/1 ``y_true``, as a dict.

    One sort serves them all (:func:`skimb.thresholds.curve_of`); they equal
    scikit-learn's ``roc_auc_score``, ``average_precision_score``, ``f1_score`` and
    ``log_loss`` (tested), without their input validation, which cost more than
    the training step on small data. ``overwrite_proba``: a float64 ``proba`` the
    caller lets go is sorted in place (no copy of it over a large split).
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
        f1 = curve.f1_at(threshold)
    else:
        f1 = f1_at(y_true, proba, threshold, sample_weight)
    return {
        "valid_roc_auc": curve.roc_auc(),
        "valid_ap": curve.average_precision(),
        "valid_f1": f1,
        "valid_log_loss": loss,
    }


def log_loss(y_true, proba, sample_weight=None):
    """Mean binary log loss, probabilities clipped to [1e-7, 1 - 1e-7].

    Taken ``SCAN_ROWS`` rows at a time: no copy of the probabilities (8 bytes a
    row over a large validation split). Up to that many rows the sum is numpy's
    own, in one piece."""
    positive, proba = _flags(y_true), np.asarray(proba, dtype=np.float64)
    total, weight, chunk = 0.0, 0.0, batches.SCAN_ROWS
    for first in range(0, proba.size, chunk):
        rows = slice(first, first + chunk)
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


def kept_targets(targets):
    """What is kept of a batch's ``(n, 1)`` or ``(n, 2)`` targets (the rows' sample
    weights in column 1): without weights, 0/1 flags (1 byte a row, not 4); with
    them, both columns. :func:`labels_and_weights` reads them back."""
    return targets[:, 0] > 0.5 if targets.shape[1] == 1 else targets


def labels_and_weights(targets):
    """0/1 flags and row weights (or None) of the targets :class:`ValidationScores`
    keeps: flags already (no weights), or ``(n, 2)`` with the weights in column 1."""
    if targets.ndim == 1:
        return _flags(targets), None
    return targets[:, 0] > 0.5, (targets[:, 1] if targets.shape[1] > 1 else None)


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
