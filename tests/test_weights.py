import numpy as np
import pytest

from skimb.weights import (
    balanced,
    class_counts,
    effective_number,
    resolve_pos_weight,
    sqrt,
)

Y = np.r_[np.zeros(990), np.ones(10)]  # 990 negatives, 10 positives


def test_known_counts():
    assert class_counts(Y) == (990, 10)
    assert balanced(Y) == 99.0
    assert sqrt(Y) == pytest.approx(np.sqrt(99.0))


def test_effective_number_matches_cui_formula():
    beta = 0.999
    w_pos = (1 - beta) / (1 - beta**10)
    w_neg = (1 - beta) / (1 - beta**990)
    assert effective_number(beta)(Y) == pytest.approx(w_pos / w_neg, rel=1e-12)
    assert effective_number(0.0)(Y) == 1.0
    # beta -> 1 approaches n_neg / n_pos
    assert effective_number(1 - 1e-9)(Y) == pytest.approx(99.0, rel=1e-4)


def test_effective_number_is_stable_for_huge_counts():
    y = np.r_[np.zeros(10**7, dtype=np.int8), np.ones(3, dtype=np.int8)]
    assert np.isfinite(effective_number(0.9999)(y))


def test_resolve_each_form():
    assert resolve_pos_weight(None, Y) == 1.0
    assert resolve_pos_weight(2.5, Y) == 2.5
    assert resolve_pos_weight("balanced", Y) == 99.0
    assert resolve_pos_weight(lambda y: float(y.sum()), Y) == 10.0


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("median", ValueError, r"pos_weight='median' is not one of None"),
        (0.0, ValueError, r"pos_weight=0.0; pos_weight must be a finite float > 0"),
        (float("nan"), ValueError, r"pos_weight=nan"),
        (True, TypeError, r"pos_weight=True; expected a float > 0"),
        (lambda y: -3.0, ValueError, r"gave -3.0"),
    ],
)
def test_bad_weights(bad, error, match):
    with pytest.raises(error, match=match):
        resolve_pos_weight(bad, Y)


def test_one_class_cannot_be_balanced():
    with pytest.raises(ValueError, match=r"from 5 negative\(s\) and 0 positive\(s\)"):
        balanced(np.zeros(5))
    with pytest.raises(ValueError, match=r"beta must be a float in \[0, 1\), got 1.0"):
        effective_number(1.0)
