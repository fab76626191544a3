"""What ``predict_proba`` and ``predict`` apply, as values: the logit shift of prior
correction and the decision threshold."""

import torch
from skorch.dataset import unpack_data

from ..bagging import BAG_ATTRIBUTES
from ..losses import FocalLoss
from ..prior import member_proba, odds_distortion
from ..progress import progress
from ..thresholds import tuned_threshold
from ..validation import ScoredRows


def logit_shift(criterion, prior_correction, class_counts, pos_weight):
    """What prior correction subtracts from the logits of a model trained with
    ``pos_weight`` in force, on ``class_counts`` (presented, true); 0 without
    ``prior_correction`` or with a criterion of the user's own (:mod:`skimb.prior`).
    """
    if not prior_correction or not isinstance(criterion, torch.nn.BCEWithLogitsLoss):
        return 0.0
    presented, true = class_counts
    alpha = criterion.alpha if isinstance(criterion, FocalLoss) else None
    return odds_distortion(pos_weight, presented, true, alpha)


def decision_threshold(threshold, scores=None, overwrite_proba=False):
    """The float ``predict`` compares the positive probability with: ``threshold``
    as given, or for ``"f1"`` the one :func:`tuned_threshold` finds on ``scores``
    (``(0/1 flags, probabilities, weights or None)``)."""
    if threshold != "f1":
        return float(threshold)
    return tuned_threshold(*scores, overwrite_proba=overwrite_proba)


def two_column_proba(shift):
    """``predict_proba``'s nonlinearity: logits (of one network or the mean over an
    ensemble's members) to ``(1 - p, p)`` with the logits shifted by ``-shift``."""

    def two_columns(logits):
        proba = member_proba(logits, shift)
        return torch.stack((1 - proba, proba), dim=1)

    return two_columns


def threshold_scores(net, rows, shift):
    """``(0/1 flags, probabilities, row weights or None)`` of ``rows`` under the
    weights the module holds, the logits shifted by ``-shift``: what the threshold
    is tuned on after training. The probabilities are float64, the flags a byte a
    row (:class:`~skimb.validation.ScoredRows`), so a large validation split costs
    little memory."""
    scored = ScoredRows(len(rows))
    for batch in progress(net.get_iterator(rows), net, len(rows), "threshold"):
        X_batch, y_batch = unpack_data(batch)
        scored.add(net.evaluate_batch((X_batch, y_batch)).float(), y_batch)
    return scored.scored(shift)


def finish_fit(net, plan, selects_epoch):
    """Fix what ``predict_proba`` and ``predict`` apply (``logit_shift_``,
    ``threshold_``, ``best_epoch_``, ``n_bags_``) for the weights the module of
    ``net`` holds at the end of the fit of ``plan`` (those of ``best_epoch_`` after
    a selection; ``selects_epoch``: whether the fit selected one)."""
    # partial_fit after bagging trains the bag on; a fresh fit forgets it
    net.n_bags_ = getattr(net.module_, "n_bags", 1)
    if net.n_bags_ == 1:
        for stale in BAG_ATTRIBUTES:
            net.__dict__.pop(stale, None)
    if not hasattr(net, "best_epoch_") or not selects_epoch:
        net.best_epoch_ = None
    epoch = net.best_epoch_ or len(net.history)
    net.logit_shift_ = net.logit_shift(net.history[epoch - 1, "pos_weight"])
    if plan.packing is not None:
        return  # a packed bag's threshold is tuned on its out-of-fold rows
    if net.threshold == "f1" or plan.keep_scores:
        rows, plan.threshold_rows = plan.threshold_rows, None
        plan.scores = threshold_scores(net, rows, net.logit_shift_)
    # scores kept for a bag are not sorted in place
    net.threshold_ = decision_threshold(
        net.threshold, plan.scores, overwrite_proba=not plan.keep_scores
    )
