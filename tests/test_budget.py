import math

import pytest

from skimb.budget import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MIN_BATCH_SIZE,
    MIN_EPOCHS,
    TARGET_STEPS,
    auto_batch_size,
    auto_max_epochs,
    resolve_budget,
)
from tests.conftest import quiet


@pytest.mark.parametrize(
    "n_rows", [1, 2, 50, 171, 214, 846, 3316, 13_000, 10**6, 10**8]
)
def test_batch_size_is_a_power_of_two_within_bounds(n_rows):
    size = auto_batch_size(n_rows)
    assert MIN_BATCH_SIZE <= size <= MAX_BATCH_SIZE
    assert size & (size - 1) == 0


def test_batch_size_grows_with_the_data():
    sizes = [auto_batch_size(n) for n in (100, 1_000, 3_000, 10_000, 10**6)]
    assert sizes == sorted(sizes)
    assert sizes[0] == MIN_BATCH_SIZE and sizes[-1] == MAX_BATCH_SIZE


@pytest.mark.parametrize("n_rows", [171, 214, 500, 1_000])
def test_tiny_sets_get_many_steps(n_rows):
    # the failure this rule fixes: 171 rows at batch 256 = 1 step an epoch, 20 in all
    batch_size, max_epochs = resolve_budget("auto", "auto", n_rows)
    steps = math.ceil(n_rows / batch_size) * max_epochs
    assert steps >= 1_000
    assert math.ceil(n_rows / batch_size) >= 5


@pytest.mark.parametrize("n_rows", [1_000_000, 10**7])
def test_large_sets_are_not_slowed(n_rows):
    batch_size, max_epochs = resolve_budget("auto", "auto", n_rows)
    assert batch_size >= 256  # the old default
    assert max_epochs == MIN_EPOCHS  # no more passes than the old default


def test_mid_sized_sets_get_the_step_target():
    batch_size, max_epochs = resolve_budget("auto", "auto", 100_000)
    steps = math.ceil(100_000 / batch_size) * max_epochs
    assert batch_size == MAX_BATCH_SIZE
    assert TARGET_STEPS <= steps < TARGET_STEPS + math.ceil(100_000 / batch_size)


def test_epochs_target_the_step_budget_within_bounds():
    for n_rows in (10, 1_000, 5_000, 20_000, 10**6):
        for batch_size in (32, 128, 512):
            epochs = auto_max_epochs(n_rows, batch_size)
            assert MIN_EPOCHS <= epochs <= MAX_EPOCHS
            steps = math.ceil(n_rows / batch_size) * epochs
            if MIN_EPOCHS < epochs < MAX_EPOCHS:
                assert (
                    TARGET_STEPS
                    <= steps
                    < TARGET_STEPS + math.ceil(n_rows / batch_size)
                )


def test_ints_are_used_as_given():
    assert resolve_budget(100, 7, 10**6) == (100, 7)
    assert resolve_budget(-1, 3, 123) == (123, 3)


def test_classifier_records_the_resolved_budget(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs="auto", early_stopping__patience=2).fit(X, y)
    assert (clf.batch_size_, clf.max_epochs_) == resolve_budget("auto", "auto", len(y))
    assert clf.history[-1]["train_batch_count"] == math.ceil(
        0.8 * len(y) / clf.batch_size_
    )
    assert len(clf.history) <= clf.max_epochs_
    assert clf.get_params()["batch_size"] == "auto"  # the parameter is untouched


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True])
def test_bad_budget_values_are_named(imbalanced, bad):
    X, y = imbalanced
    with pytest.raises(
        ValueError, match=r"max_epochs must be 'auto' or a positive int"
    ):
        quiet(max_epochs=bad).fit(X, y)
