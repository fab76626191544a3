import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    roc_auc_score,
)

from skimb.data import index
from skimb.thresholds import tuned_threshold
from skimb.validation import score_predictions


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 30)), min_size=2, max_size=80),
    st.booleans(),
    st.sampled_from(["f1", 0.3]),
    st.sampled_from([1, 7, 1 << 16]),
)
def test_scores_equal_scikit_learns(rows, weighted, threshold, chunk):
    y = np.array([r[0] for r in rows])
    proba = np.array([r[1] for r in rows], dtype=np.float64) / 30  # ties and 0/1
    w = np.linspace(0.2, 3.0, len(y)) if weighted else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index, "SCAN_ROWS", chunk)  # the log loss chunk by chunk
        scores = score_predictions(y, proba, w, threshold=threshold)
        # The validation pass lets its probabilities be sorted in place: same
        # scores, to the last bit (F1 from the curve's counts)
        given_up = proba.copy()
        in_place = score_predictions(
            y, given_up, w, threshold=threshold, overwrite_proba=True
        )
    assert in_place == scores or all(np.isnan(v) for v in in_place.values())
    if w is None:
        assert np.array_equal(given_up, np.sort(proba))  # no copy was sorted
    if y.all() or not y.any():
        assert all(np.isnan(v) for v in scores.values())
        return
    t = tuned_threshold(y, proba, w) if threshold == "f1" else threshold
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    expected = {
        "valid_roc_auc": roc_auc_score(y, proba, sample_weight=w),
        "valid_ap": average_precision_score(y, proba, sample_weight=w),
        "valid_f1": f1_score(y, proba > t, sample_weight=w, zero_division=0.0),
        "valid_acc": accuracy_score(y, proba > t, sample_weight=w),
        "valid_log_loss": log_loss(y, clipped, sample_weight=w),
    }
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_history_scores_match_predict_proba_on_the_validation_rows(imbalanced):
    from tests.conftest import quiet

    X, y = imbalanced
    clf = quiet(max_epochs=3, early_stopping=False, threshold=0.4).fit(X, y)
    y01 = y.astype(np.float32)
    _, valid = clf.train_split(clf.get_dataset(X, y01), y01)
    rows = np.asarray(valid.indices)
    proba = clf.predict_proba(X[rows])[:, 1]
    row = clf.history[-1]
    assert row["valid_ap"] == pytest.approx(
        average_precision_score(y[rows], proba), rel=1e-5
    )
    assert row["valid_roc_auc"] == pytest.approx(
        roc_auc_score(y[rows], proba), rel=1e-5
    )
    assert row["valid_f1"] == pytest.approx(f1_score(y[rows], proba > 0.4), rel=1e-5)
    assert row["valid_acc"] == pytest.approx(accuracy_score(y[rows], proba > 0.4))
    assert row["valid_log_loss"] == pytest.approx(log_loss(y[rows], proba), rel=1e-4)


def test_batch_rows_gather_what_concatenation_would():
    from skimb.data.batches import BatchRows

    rng = np.random.default_rng(0)
    batches = [rng.random((n, 2)).astype(np.float32) for n in (5, 5, 3)]
    expected = np.concatenate(batches)
    for announced in (13, None, 11, 20):  # exact, unknown, too few, too many
        rows = BatchRows(announced)
        for batch in batches:
            rows.add(batch)
        np.testing.assert_array_equal(rows.array(), expected)
        assert rows.array().dtype == np.float32
    exact = BatchRows(13)
    for batch in batches:
        exact.add(batch)
    assert exact.rows is not None and exact.parts == []  # one array, filled in place
    mixed = BatchRows(13)
    mixed.add(batches[0])
    mixed.add(batches[1].astype(np.float64))  # another dtype: joined at the end
    np.testing.assert_array_equal(mixed.array(), expected[:10])
    assert BatchRows(4).array() is None
    for announced in (13, None):  # a dtype of its own: every batch cast to it
        wide = BatchRows(announced, np.float64)
        for batch in batches:
            wide.add(batch)
        assert wide.array().dtype == np.float64
        np.testing.assert_array_equal(wide.array(), expected.astype(np.float64))


@pytest.mark.parametrize("members", [None, 3])
def test_probabilities_made_in_place_equal_those_of_a_copy(members):
    from skimb.prior import corrected_proba

    rng = np.random.default_rng(0)
    shape = (1000,) if members is None else (1000, members)
    logits32 = (rng.normal(size=shape) * 20).astype(np.float32)
    expected = corrected_proba(logits32, 2.5)
    logits = logits32.astype(np.float64)
    proba = corrected_proba(logits, 2.5, overwrite_logits=True)
    np.testing.assert_array_equal(proba, expected)  # bit for bit
    assert np.shares_memory(proba, logits) == (members is None)  # no copy of one
    kept = logits32.astype(np.float64)
    corrected_proba(kept, 2.5)  # without overwrite_logits: left as they were
    np.testing.assert_array_equal(kept, logits32.astype(np.float64))
