import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from skimb.thresholds import (
    Curve,
    RankCurve,
    expected_f1_threshold,
    f1_at,
    f1_optimal_threshold,
    tuned_threshold,
)
from skimb.validation import score_predictions


def _brute_force_best_f1(y, proba, w=None):
    cuts = np.concatenate([[-1.0], np.unique(proba)])
    return max(f1_score(y, proba > t, sample_weight=w, zero_division=0.0) for t in cuts)


def test_known_optimum():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    proba = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9])
    # above 0.5: 3 TP, 0 FP, 1 FN -> F1 = 6/7; above 0.25: 4 TP, 1 FP -> 8/9 (best)
    t = f1_optimal_threshold(y, proba)
    assert t == pytest.approx(0.25)
    assert f1_at(y, proba, t) == pytest.approx(8 / 9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=60),
    st.booleans(),
)
def test_threshold_reaches_the_best_f1_of_any_threshold(rows, weighted):
    y = np.array([r[0] for r in rows], dtype=int)
    proba = np.array([r[1] for r in rows], dtype=float) / 20  # many ties
    if y.all() or not y.any():
        assert f1_optimal_threshold(y, proba) == 0.5
        return
    w = np.linspace(0.5, 2.0, len(y)) if weighted else None
    t = f1_optimal_threshold(y, proba, w)
    assert t < 1.0
    expected = _brute_force_best_f1(y, proba, w)
    assert f1_at(y, proba, t, w) == pytest.approx(expected)
    assert f1_score(y, proba > t, sample_weight=w) == pytest.approx(expected)


def test_threshold_lies_between_scores_not_on_one():
    y = np.array([0, 1, 0, 1])
    proba = np.array([0.2, 0.4, 0.6, 0.8])
    t = f1_optimal_threshold(y, proba)
    assert t not in proba
    assert (proba > t).sum() in (1, 2, 3, 4)


def _brute_force_expected_f1(proba):
    cuts = np.concatenate([[-1.0], np.unique(proba)])
    p = np.asarray(proba, np.float64)
    return max(2 * p[p > t].sum() / ((p > t).sum() + p.sum()) for t in cuts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=40))
def test_expected_f1_threshold_maximises_the_expected_f1(scores):
    proba = np.array(scores, dtype=float) / 20
    t = expected_f1_threshold(proba)
    chosen = 2 * proba[proba > t].sum() / ((proba > t).sum() + proba.sum())
    if proba.sum() == 0:
        return  # expected F1 is 0 for every threshold
    assert chosen == pytest.approx(_brute_force_expected_f1(proba))
    assert t not in proba


def test_expected_f1_threshold_needs_no_labels_and_follows_calibration():
    # calibrated scores: about 30% positives among rows scored 0.3
    rng = np.random.default_rng(0)
    proba = rng.beta(0.5, 5, size=20_000)
    y = rng.random(proba.size) < proba
    t_expected = expected_f1_threshold(proba)
    t_labels = f1_optimal_threshold(y, proba)
    assert abs(t_expected - t_labels) < 0.05


def test_tuned_threshold_is_the_mean_of_both_rules():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    proba = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9])
    expected = (f1_optimal_threshold(y, proba) + expected_f1_threshold(proba)) / 2
    assert tuned_threshold(y, proba) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_tuned_threshold_shares_one_sort_with_weights_and_ties(seed):
    rng = np.random.default_rng(seed)
    proba = np.round(rng.random(300), 2)  # many ties
    y = (rng.random(300) < proba).astype(int)
    w = rng.random(300) * 3
    expected = (f1_optimal_threshold(y, proba, w) + expected_f1_threshold(proba, w)) / 2
    assert tuned_threshold(y, proba, w) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 25)), min_size=1, max_size=90),
    st.sampled_from([1, 2, 5, 1 << 18]),
)
def test_rank_curve_gives_curves_thresholds_and_scores(rows, chunk):
    y = np.array([r[0] for r in rows])
    proba = np.array([r[1] for r in rows], dtype=np.float64) / 25  # ties, 0 and 1
    full = Curve(y, proba)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RankCurve, "_CHUNK", chunk)  # chunk edges inside the data
        rank = RankCurve(y, proba)
        assert rank.expected_f1_threshold() == full.expected_f1_threshold()
    assert rank.has_both_classes == full.has_both_classes
    assert rank.f1_threshold() == full.f1_threshold()
    if full.has_both_classes:
        assert rank.average_precision() == pytest.approx(full.average_precision())
        assert rank.roc_auc() == pytest.approx(full.roc_auc(), rel=1e-12)


def test_validation_scores_need_a_few_bytes_a_row():
    """Scoring a validation split of millions of rows must not cost Curve's ~40
    bytes a row of working arrays (after the 8-byte probabilities)."""
    import tracemalloc

    n = 1_000_000
    rng = np.random.default_rng(0)
    y, proba = rng.random(n) < 0.02, rng.random(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        score_predictions(y, proba)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak / n < 16  # the sorted copy (8), a few bools, chunks of the pass


def test_rank_curve_counts_rows_strictly_above_the_threshold():
    y = np.array([1, 0, 1, 0, 1], bool)
    proba = np.array([0.3, 0.3, 0.6, 0.1, 0.1])
    curve = RankCurve(y, proba)
    for threshold in (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.9):  # ties at 0.1, 0.3, 0.6
        counts = curve.counts_at(threshold)
        assert counts.f1() == f1_at(y, proba, threshold), threshold
        assert counts.accuracy() == accuracy_score(y, proba > threshold), threshold
