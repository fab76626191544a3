"""Weight schedules: the weight sequence read back from the history."""

import numpy as np
import pytest

from skimb.schedules import (
    DeferredReweighting,
    LinearDecay,
    PlateauIncrease,
    WeightSchedule,
)
from tests.conftest import quiet


@pytest.mark.parametrize("loss", ["bce", "focal"])
def test_linear_goes_from_resolved_weight_to_one(imbalanced, loss):
    X, y = imbalanced
    clf = quiet(loss=loss, weight_schedule="linear", max_epochs=5).fit(X, y)
    w = clf.pos_weight_
    expected = [w + (1 - w) * k / 4 for k in range(5)]
    np.testing.assert_allclose(clf.history[:, "pos_weight"], expected, rtol=1e-6)
    assert clf.history[-1]["pos_weight"] == pytest.approx(1.0)


def test_linear_never_crosses_one():
    assert LinearDecay().simulate(4, base_weight=0.25).tolist() == [
        0.25,
        0.5,
        0.75,
        1.0,
    ]
    assert (LinearDecay(max_epochs=3).simulate(6, base_weight=5.0)[2:] == 1.0).all()


def test_deferred_default_start(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="deferred", max_epochs=6).fit(X, y)
    # start = round(2/3 * 6) + 1 = 5
    expected = [1.0] * 4 + [clf.pos_weight_] * 2
    np.testing.assert_allclose(clf.history[:, "pos_weight"], expected, rtol=1e-6)


def test_deferred_start_option(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="deferred", weight_schedule__start=2, max_epochs=3).fit(
        X, y
    )
    np.testing.assert_allclose(
        clf.history[:, "pos_weight"], [1.0, clf.pos_weight_, clf.pos_weight_], rtol=1e-6
    )


def test_plateau_grows_weight_when_monitor_stalls(imbalanced):
    X, y = imbalanced
    # train_batch_count is the same every epoch: a monitor that stalls by construction
    clf = quiet(
        weight_schedule="plateau",
        weight_schedule__monitor="train_batch_count",
        weight_schedule__patience=2,
        weight_schedule__factor=2.0,
        weight_schedule__max_weight=None,
        max_epochs=7,
        pos_weight=3.0,
    ).fit(X, y)
    # best at epoch 1; stalls at 2, 3 -> x2 from epoch 4; at 4, 5 -> x2 from 6
    assert clf.history[:, "pos_weight"] == [3.0, 3.0, 3.0, 6.0, 6.0, 12.0, 12.0]


def test_plateau_is_capped():
    schedule = PlateauIncrease(patience=1, factor=10.0, max_weight=25.0)
    weights = schedule.simulate([0.5] * 5, base_weight=2.0)
    assert weights.tolist() == [2.0, 2.0, 20.0, 25.0, 25.0]
    default_cap = PlateauIncrease(patience=1, factor=100.0).simulate([0.5] * 4, 2.0)
    assert default_cap.max() == 20.0


def test_plateau_lower_is_better_for_losses():
    schedule = PlateauIncrease(monitor="valid_loss", patience=1, factor=2.0)
    # a falling loss is an improvement: the weight stays
    assert schedule.simulate([3.0, 2.0, 1.0, 0.5], 1.0).tolist() == [1.0] * 4


def test_monitor_missing_is_a_clear_error(imbalanced):
    X, y = imbalanced
    with pytest.raises(
        ValueError,
        match=r"monitor='valid_auc' is not in the history; "
        r"logged keys are \[.*'valid_ap'",
    ):
        quiet(weight_schedule="plateau", weight_schedule__monitor="valid_auc").fit(X, y)
    with pytest.raises(ValueError, match=r"train_split=None"):
        quiet(weight_schedule="plateau", train_split=None).fit(X, y)


def test_user_schedule_in_a_few_lines(imbalanced):
    class Doubling(WeightSchedule):
        def weight_at(self, epoch, base_weight, net):
            return base_weight * 2 ** (epoch - 1)

    X, y = imbalanced
    clf = quiet(weight_schedule=Doubling(), pos_weight=1.5, max_epochs=3).fit(X, y)
    assert clf.history[:, "pos_weight"] == [1.5, 3.0, 6.0]


def test_schedule_continues_over_partial_fit(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="linear", pos_weight=5.0, max_epochs=2)
    clf.partial_fit(X, y)  # epochs 1-2 of 2
    clf.partial_fit(X, y)  # epochs 3-4: past max_epochs, weight stays at 1
    assert clf.history[:, "pos_weight"] == [5.0, 1.0, 1.0, 1.0]
    clf.fit(X, y)  # a fresh fit restarts
    assert clf.history[:, "pos_weight"] == [5.0, 1.0]


def test_schedule_options_are_grid_searchable(imbalanced):
    from sklearn.model_selection import GridSearchCV

    X, y = imbalanced
    grid = GridSearchCV(
        quiet(weight_schedule="deferred", max_epochs=2),
        {"weight_schedule__start": [1, 3]},
        cv=2,
        scoring="roc_auc",
    )
    grid.fit(X, y)
    assert set(grid.cv_results_["param_weight_schedule__start"]) == {1, 3}


def test_schedule_changes_weight_in_place_keeping_optimizer(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="linear", max_epochs=3).fit(X, y)
    optimizer = clf.optimizer_
    clf.set_weight_in_force(2.0)
    assert clf.optimizer_ is optimizer and clf.weight_in_force() == 2.0


def test_deferred_simulate_matches_training(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="deferred", max_epochs=4).fit(X, y)
    simulated = DeferredReweighting().simulate(4, clf.pos_weight_)
    np.testing.assert_allclose(clf.history[:, "pos_weight"], simulated, rtol=1e-6)
