import sys

import matplotlib
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skimb import HistoryDisplay
from tests.conftest import quiet

matplotlib.use("Agg")


def test_history_display_draws_every_curve_and_marks_the_best_epoch(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=5, weight_schedule="linear", early_stopping__patience=None)
    clf.fit(X, y)
    display = HistoryDisplay.from_estimator(clf)
    losses, scores, weight = display.ax_
    assert {line.get_label() for line in losses.lines} >= {
        "train_loss", "valid_loss", "valid_log_loss",
    }  # fmt: skip
    assert {"valid_ap", "valid_roc_auc", "valid_f1"} <= {
        line.get_label() for line in scores.lines
    }
    weight_line = next(
        line for line in weight.lines if line.get_label() == "pos_weight"
    )
    np.testing.assert_allclose(weight_line.get_ydata(), clf.history[:, "pos_weight"])
    marks = [
        line for line in losses.lines if line.get_label().startswith("best_epoch_")
    ]
    assert marks and marks[0].get_xdata()[0] == clf.best_epoch_
    assert display.figure_ is losses.figure


def test_history_display_on_given_axes_and_without_validation(imbalanced):
    import matplotlib.pyplot as plt

    X, y = imbalanced
    clf = quiet(max_epochs=2, train_split=None).fit(X, y)
    figure, axes = plt.subplots(1, 3)
    display = HistoryDisplay.from_estimator(clf, ax=axes, name="no split")
    assert display.figure_ is figure and display.ax_[0].get_title() == "no split"
    assert "valid_ap" not in display.curves
    with pytest.raises(ValueError, match="3 Axes"):
        HistoryDisplay.from_estimator(clf, ax=axes[:2])


def test_unfitted_estimator_is_a_clear_error():
    with pytest.raises(NotFittedError, match="call fit before HistoryDisplay"):
        HistoryDisplay.from_estimator(quiet())


def test_missing_matplotlib_names_the_extra(imbalanced, monkeypatch):
    X, y = imbalanced
    clf = quiet(max_epochs=1).fit(X, y)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skimb\[plots\]"):
        HistoryDisplay.from_estimator(clf)
