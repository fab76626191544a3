import math

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skimb.selection import BestEpoch
from tests.conftest import quiet


class PredictEachEpoch(Callback):
    """Records predict_proba on fixed rows after every epoch."""

    def __init__(self, X):
        self.X = X

    def initialize(self):
        self.probas_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        net.module_.eval()
        with torch.no_grad():
            logits = net.infer(torch.as_tensor(self.X)).numpy()
        self.probas_.append(logits)


def test_restored_model_predicts_as_the_selected_epoch(imbalanced):
    X, y = imbalanced
    X = X.astype(np.float32)
    recorder = PredictEachEpoch(X[:200])
    clf = quiet(
        max_epochs=12, early_stopping__patience=None, callbacks=[recorder], device="cpu"
    )
    clf.fit(X, y)
    smoothed_ap = clf.history[:, "valid_ap_smoothed"]  # the default monitor
    losses = clf.history[:, "valid_loss"]
    assert clf.best_epoch_ == replay_selection(smoothed_ap, losses, min_delta=0.005)
    assert len(clf.history) == 12  # patience=None trains every epoch
    with torch.no_grad():
        clf.module_.eval()
        final = clf.infer(torch.as_tensor(X[:200])).numpy()
    np.testing.assert_allclose(
        final, recorder.probas_[clf.best_epoch_ - 1], rtol=0, atol=0
    )
    if clf.best_epoch_ != 12:
        assert not np.allclose(final, recorder.probas_[-1])


def test_patience_stops_training(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=60, lr=0.05, early_stopping__patience=3).fit(X, y)
    assert len(clf.history) <= clf.best_epoch_ + 3
    assert len(clf.history) < 60


@pytest.mark.parametrize("monitor", ["valid_ap", "valid_roc_auc", "valid_f1"])
def test_higher_is_better_monitors(imbalanced, monitor):
    X, y = imbalanced
    clf = quiet(
        max_epochs=6,
        early_stopping__monitor=monitor,
        early_stopping__smoothing=0.0,
        early_stopping__patience=None,
    ).fit(X, y)
    scores = np.array(clf.history[:, monitor], dtype=float)
    losses = np.array(clf.history[:, "valid_loss"])
    # the best score; of epochs tied for it, the lowest validation loss
    tied = np.flatnonzero(scores == np.nanmax(scores))
    assert clf.best_epoch_ == int(tied[np.argmin(losses[tied])]) + 1


def test_a_perfect_ranking_from_the_first_epoch_does_not_keep_that_epoch():
    # separable data: validation AP is 1.0 from epoch 1 on, while the network is
    # still far from confident; the tie goes to the lowest validation loss
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5)).astype(np.float32)
    y = (X[:, 0] > 1.2).astype(int)
    X[y == 1, 0] += 3.0
    clf = quiet(max_epochs=15, early_stopping__patience=None).fit(X, y)
    ap = np.array(clf.history[:, "valid_ap"])
    losses = np.array(clf.history[:, "valid_loss"])
    assert np.all(ap == 1.0)
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1 > 1
    # without the tie-break, epoch 1 and its squeezed probabilities
    first = quiet(
        max_epochs=15, early_stopping__patience=None, early_stopping__tie_monitor=None
    ).fit(X, y)
    assert first.best_epoch_ == 1


def test_scores_within_min_delta_tie_and_the_loss_decides(imbalanced):
    X, y = imbalanced
    clf = quiet(
        max_epochs=12,
        early_stopping__smoothing=0.0,
        early_stopping__patience=None,
        early_stopping__min_delta=0.05,
    ).fit(X, y)
    ap = np.array(clf.history[:, "valid_ap"])
    losses = np.array(clf.history[:, "valid_loss"])
    assert clf.best_epoch_ == replay_selection(ap, losses, min_delta=0.05)


def replay_selection(scores, losses, min_delta):
    """BestEpoch's rule, written out: an epoch is selected when it beats the
    selected epoch's score by more than min_delta, or scores within min_delta of
    the best score so far with a lower loss than the selected epoch."""
    best = leader = None
    for epoch, (score, loss) in enumerate(zip(scores, losses, strict=True)):
        if (
            best is None
            or score > scores[best] + min_delta
            or (score >= leader - min_delta and loss < losses[best])
        ):
            best = epoch
        leader = score if leader is None else max(leader, score)
    return best + 1


def test_smoothing_selects_on_the_moving_average(imbalanced):
    X, y = imbalanced
    clf = quiet(
        max_epochs=8,
        early_stopping__monitor="valid_log_loss",
        early_stopping__smoothing=0.5,
        early_stopping__patience=None,
    ).fit(X, y)
    raw = clf.history[:, "valid_log_loss"]
    ema = [raw[0]]
    for value in raw[1:]:
        ema.append(0.5 * ema[-1] + 0.5 * value)
    np.testing.assert_allclose(clf.history[:, "valid_log_loss_smoothed"], ema)
    # lower is better: replayed on the negated scores
    losses = clf.history[:, "valid_loss"]
    assert clf.best_epoch_ == replay_selection(-np.array(ema), losses, 0.005)


def test_no_selection_without_a_split_or_when_off(imbalanced):
    X, y = imbalanced
    assert quiet(train_split=None).fit(X, y).best_epoch_ is None
    clf = quiet(early_stopping=False).fit(X, y)
    assert clf.best_epoch_ is None
    assert "early_stopping" not in dict(clf.callbacks_)


def test_early_stopping_true_needs_a_split(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match="early_stopping=True.*train_split=None"):
        quiet(early_stopping=True, train_split=None).fit(X, y)


def test_nan_scores_never_count_as_improvements():
    class Net:
        history = None

    callback = BestEpoch(monitor="valid_ap", patience=None)
    assert not callback._improved(math.nan)


@pytest.mark.parametrize("bad", [{"patience": 0}, {"smoothing": 1.0}])
def test_bad_options_raise(imbalanced, bad):
    X, y = imbalanced
    key, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=key):
        quiet(**{f"early_stopping__{key}": value}).fit(X, y)
