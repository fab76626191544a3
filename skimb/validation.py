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
from .prior import corrected_proba
from .thresholds import curve_of, f1_at, tuned_threshold

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
        self.logits_, self.targets_ = BatchRows(rows), BatchRows(rows)

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training or y_pred is None:
            return
        # Kept in the network's dtype (float32), made float64 once per epoch: half
        # the memory over a validation split of millions of rows.
        logits = _numpy(y_pred)  # (n,), or (n, k) for the members of an ensemble
        self.logits_.add(logits)
        # targets are (n,), or (n, 2) with the rows' sample weights in column 1
        self.targets_.add(_numpy(batch[1]).reshape(len(logits), -1))

    def on_epoch_end(self, net, **kwargs):
        logits, targets = self.logits_.array(), self.targets_.array()
        self.logits_ = self.targets_ = None
        if logits is None:
            return  # no validation split
        proba = corrected_proba(logits, net.logit_shift(net.weight_in_force()))
        y_true, weights = targets[:, 0] > 0.5, _weights(targets)
        # Let the kept batches go before the scores' sorted copy is made (8 bytes
        # a validation row); a weight column is a view that keeps its array.
        del logits, targets
        scores = score_predictions(y_true, proba, weights, threshold=net.threshold)
        for name, value in scores.items():
            net.history.record(name, value)


def score_predictions(y_true, proba, sample_weight=None, threshold="f1"):
    """The four validation scores of ``proba`` against 0/1 ``y_true``, as a dict.

    One sort serves them all (:func:`skimb.thresholds.curve_of`); they equal
    scikit-learn's ``roc_auc_score``, ``average_precision_score``, ``f1_score`` and
    ``log_loss`` (tested), without their input validation, which cost more than
    the training step on small data.
    """
    y_true = np.asarray(y_true) > 0.5
    if sample_weight is not None and not np.sum(sample_weight) > 0:
        return dict.fromkeys(SCORES, float("nan"))  # no class has any weight
    # First: its working copy is let go before the curve's sorted one is made.
    loss = log_loss(y_true, proba, sample_weight)
    curve = curve_of(y_true, proba, sample_weight)
    if not curve.has_both_classes:
        return dict.fromkeys(SCORES, float("nan"))
    if threshold == "f1":
        threshold = tuned_threshold(y_true, proba, sample_weight, curve=curve)
    return {
        "valid_roc_auc": curve.roc_auc(),
        "valid_ap": curve.average_precision(),
        "valid_f1": f1_at(y_true, proba, threshold, sample_weight),
        "valid_log_loss": loss,
    }


def log_loss(y_true, proba, sample_weight=None):
    """Mean binary log loss, probabilities clipped to [1e-7, 1 - 1e-7]."""
    positive = np.asarray(y_true) > 0.5
    losses = np.clip(np.asarray(proba, dtype=np.float64), 1e-7, 1 - 1e-7)  # a copy
    # In place, class by class: one array the length of the split, not four.
    np.log(losses, out=losses, where=positive)
    negative = ~positive
    np.negative(losses, out=losses, where=negative)
    np.log1p(losses, out=losses, where=negative)
    return float(-np.average(losses, weights=sample_weight))


def _weights(targets):
    return targets[:, 1] if targets.shape[1] > 1 else None


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
