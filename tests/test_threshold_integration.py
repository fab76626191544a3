import numpy as np
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import (
    FixedThresholdClassifier,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)

from skimb.thresholds import tuned_threshold
from tests.conftest import quiet


def test_predict_applies_the_tuned_threshold(imbalanced):
    X, y = imbalanced
    clf = quiet().fit(X, y)
    proba = clf.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(clf.predict(X), (proba > clf.threshold_).astype(int))
    assert clf.threshold_ != 0.5


def test_threshold_is_tuned_for_f1_on_the_validation_rows(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=3).fit(X, y)
    # the net's own train_split (ValidSplit(5, stratified), deterministic) again
    y01 = y.astype(np.float32)
    _, valid = clf.train_split(clf.get_dataset(X, y01), y01)
    rows = np.sort(np.asarray(valid.indices))
    proba = clf.predict_proba(X[rows])[:, 1]
    expected = tuned_threshold(y[rows], proba)
    assert clf.threshold_ == pytest.approx(expected, abs=1e-6)


def test_fallback_without_validation_split_tunes_on_training_rows(imbalanced):
    X, y = imbalanced
    clf = quiet(train_split=None).fit(X, y)
    proba = clf.predict_proba(X)[:, 1]
    assert clf.threshold_ == pytest.approx(tuned_threshold(y, proba), abs=1e-6)


def test_float_threshold_is_used_as_given(imbalanced):
    X, y = imbalanced
    clf = quiet(threshold=0.3).fit(X, y)
    assert clf.threshold_ == 0.3
    np.testing.assert_array_equal(
        clf.predict(X), (clf.predict_proba(X)[:, 1] > 0.3).astype(int)
    )


@pytest.mark.parametrize("bad", [0.0, 1.0, "youden", -0.2])
def test_bad_threshold_is_named(imbalanced, bad):
    X, y = imbalanced
    with pytest.raises(
        ValueError, match=r"threshold must be 'f1' or a float in \(0, 1\)"
    ):
        quiet(threshold=bad).fit(X, y)


def test_inside_tuned_threshold_classifier_cv(imbalanced):
    X, y = imbalanced
    tuned = TunedThresholdClassifierCV(
        quiet(max_epochs=2), scoring="f1", cv=StratifiedKFold(2), random_state=0
    ).fit(X, y)
    assert 0 < tuned.best_threshold_ < 1
    predicted = tuned.predict(X)
    proba = tuned.estimator_.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(
        predicted, (proba >= tuned.best_threshold_).astype(int)
    )
    assert f1_score(y, predicted) > 0.3


def test_inside_fixed_threshold_classifier(imbalanced):
    X, y = imbalanced
    fixed = FixedThresholdClassifier(quiet(max_epochs=2), threshold=0.2).fit(X, y)
    proba = fixed.estimator_.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(fixed.predict(X), (proba >= 0.2).astype(int))
