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
    assert clf.best_epoch_ == int(np.nanargmax(smoothed_ap)) + 1
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
    scores = clf.history[:, monitor]
    assert clf.best_epoch_ == int(np.nanargmax(scores)) + 1


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
    assert clf.best_epoch_ == int(np.argmin(ema)) + 1


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
