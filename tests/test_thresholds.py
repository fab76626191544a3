import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from skimb.thresholds import best_f1, f1_at, f1_optimal_threshold


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
    assert best_f1(y, proba, w) == pytest.approx(expected)


def test_threshold_lies_between_scores_not_on_one():
    y = np.array([0, 1, 0, 1])
    proba = np.array([0.2, 0.4, 0.6, 0.8])
    t = f1_optimal_threshold(y, proba)
    assert t not in proba
    assert (proba > t).sum() in (1, 2, 3, 4)
