"""The classifier inside real scikit-learn and imbalanced-learn machinery."""

import joblib
import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.preprocessing import StandardScaler

from tests.conftest import quiet

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def test_grid_search_over_pos_weight_and_loss(imbalanced):
    X, y = imbalanced
    grid = GridSearchCV(
        quiet(max_epochs=2),
        {"pos_weight": [None, "balanced"], "loss": ["bce", "focal"]},
        scoring="average_precision",
        cv=CV,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.predict_proba(X).shape == (len(y), 2)


def test_grid_search_over_prefixed_strategy_options(imbalanced):
    X, y = imbalanced
    grid = GridSearchCV(
        quiet(max_epochs=2, sampler="batch_balanced", weight_schedule="deferred"),
        {"sampler__pos_per_batch": [1, 4], "weight_schedule__start": [1, 2]},
        scoring="roc_auc",
        cv=CV,
    ).fit(X, y)
    assert grid.best_params_["sampler__pos_per_batch"] in (1, 4)


def test_cross_validate_with_imbalance_scorers(imbalanced):
    X, y = imbalanced
    scores = cross_validate(
        quiet(), X, y, cv=CV, scoring=["f1", "roc_auc", "average_precision"]
    )
    for name in ("test_f1", "test_roc_auc", "test_average_precision"):
        assert np.isfinite(scores[name]).all()
    assert scores["test_roc_auc"].mean() > 0.8


def test_scorers_follow_positive_class_with_string_labels(imbalanced):
    X, y = imbalanced
    labels = np.where(y == 1, "yes", "no")  # "yes" is classes_[1], as for sklearn
    auc = cross_val_score(quiet(), X, labels, cv=CV, scoring="roc_auc")
    assert auc.mean() > 0.8


def test_smote_pipeline_in_cross_val_score(imbalanced):
    X, y = imbalanced
    pipeline = make_pipeline(
        StandardScaler(), SMOTE(random_state=0), quiet(pos_weight=None)
    )
    ap = cross_val_score(pipeline, X, y, cv=CV, scoring="average_precision")
    assert np.isfinite(ap).all() and ap.mean() > 0.2


def test_joblib_round_trip(imbalanced, tmp_path):
    X, y = imbalanced
    clf = quiet().fit(X, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    restored = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
