import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from torch import nn

from skimb import ImbalancedNetClassifier, effective_number
from skimb.losses import FocalLoss
from skimb.modules import MLP
from tests.conftest import quiet


def test_every_api_parameter_is_visible_to_get_params():
    params = ImbalancedNetClassifier().get_params()
    expected = {
        "module": None,
        "loss": "bce",
        "pos_weight": "balanced",
        "focal_alpha": 0.25,
        "focal_gamma": 2.0,
        "sampler": None,
        "weight_schedule": None,
        "device": "auto",
        "random_state": None,
        "batch_size": "auto",
        "max_epochs": "auto",
        "early_stopping": "auto",
        "threshold": "f1",
        "prior_correction": True,
        "scaling": "standard",
    }
    assert {k: params[k] for k in expected} == expected
    assert "_params_to_validate" not in params


def test_prefixed_options_are_accepted_and_round_trip_through_clone():
    clf = ImbalancedNetClassifier(
        sampler="batch_balanced",
        sampler__pos_per_batch=2,
        weight_schedule="deferred",
        weight_schedule__start=2,
        module__hidden_units=(8,),
    )
    params = clone(clf).get_params()
    assert params["sampler__pos_per_batch"] == 2
    assert params["weight_schedule__start"] == 2
    assert params["module__hidden_units"] == (8,)


def test_fit_resolves_balanced_weight_on_training_rows(imbalanced):
    X, y = imbalanced
    clf = quiet().fit(X, y)
    # the default split keeps 4/5 of each class for training (stratified)
    train = np.asarray(clf.history[-1]["train_batch_count"])
    assert train > 0
    n_pos_train = round(0.8 * y.sum())
    n_neg_train = round(0.8 * (len(y) - y.sum()))
    assert clf.pos_weight_ == pytest.approx(n_neg_train / n_pos_train, rel=0.02)
    assert clf.history[:, "pos_weight"] == [clf.pos_weight_] * 4
    assert clf.n_features_in_ == X.shape[1]
    assert clf.criterion_.pos_weight.item() == pytest.approx(clf.pos_weight_)


def test_without_validation_split_weight_uses_all_rows(imbalanced):
    X, y = imbalanced
    clf = quiet(train_split=None).fit(X, y)
    assert clf.pos_weight_ == pytest.approx((y == 0).sum() / y.sum())
    assert "valid_ap" not in clf.history[-1]


@pytest.mark.parametrize(
    "pos_weight, expected",
    [
        (None, lambda r: 1.0),
        (3.5, lambda r: 3.5),
        ("sqrt", lambda r: np.sqrt(r)),
        (effective_number(0.9), lambda r: None),
        (lambda y: 2.0 * (len(y) - y.sum()) / y.sum(), lambda r: 2 * r),
    ],
)
def test_pos_weight_strategies(imbalanced, pos_weight, expected):
    X, y = imbalanced
    clf = quiet(pos_weight=pos_weight, max_epochs=1, train_split=None).fit(X, y)
    ratio = (y == 0).sum() / y.sum()
    if expected(ratio) is not None:
        assert clf.pos_weight_ == pytest.approx(expected(ratio))
    else:
        assert 1.0 < clf.pos_weight_ < ratio


def test_history_has_validation_scores(imbalanced):
    X, y = imbalanced
    clf = quiet().fit(X, y)
    row = clf.history[-1]
    for key in ("valid_loss", "valid_roc_auc", "valid_ap", "valid_f1", "pos_weight"):
        assert key in row
    assert 0.5 < row["valid_roc_auc"] <= 1.0
    assert 0.0 <= row["valid_ap"] <= 1.0


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["fraud", "ok"]),
        np.array([False, True]),
        np.array([-1, 7]),
    ],
)
def test_any_two_labels_and_predict_returns_them(imbalanced, labels):
    X, y = imbalanced
    y_labels = labels[y]
    clf = quiet().fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    pred = clf.predict(X)
    assert set(np.unique(pred)) <= set(labels)
    assert pred.dtype == y_labels.dtype
    # the positive class is classes_[1]: predict_proba's column 1
    positive = clf.predict_proba(X)[:, 1] > clf.threshold_
    np.testing.assert_array_equal(pred == clf.classes_[1], positive)


def test_string_labels_positive_is_alphabetically_later(imbalanced):
    X, y = imbalanced
    names = np.where(y == 1, "zebra", "apple")  # positives are "zebra"
    clf = quiet(train_split=None, max_epochs=1).fit(X, names)
    assert clf.classes_[1] == "zebra"
    assert clf.pos_weight_ == pytest.approx((y == 0).sum() / y.sum())


def test_pandas_input(imbalanced):
    X, y = imbalanced
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = quiet().fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    np.testing.assert_allclose(clf.predict_proba(df), clf.predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, bool])
def test_numeric_dtypes_are_cast(imbalanced, dtype):
    X, y = imbalanced
    Xc = (X > 0) if dtype is bool else X.astype(dtype)
    proba = quiet(max_epochs=1).fit(Xc, y).predict_proba(Xc)
    assert proba.dtype == np.float32 and proba.shape == (len(y), 2)


def test_random_state_makes_fits_identical_and_leaves_global_rng(imbalanced):
    X, y = imbalanced
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = quiet(sampler="batch_balanced").fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    p1 = first.predict_proba(X)
    p2 = quiet(sampler="batch_balanced").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = quiet(sampler="batch_balanced", random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


def test_clone_and_pickle_round_trip(imbalanced):
    X, y = imbalanced
    clf = quiet(loss="focal", weight_schedule="linear").fit(X, y)
    assert clone(clf).get_params()["loss"] == "focal"
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.device == "auto"
    assert restored.pos_weight_ == clf.pos_weight_


def test_focal_loss_is_used_and_predicts_probabilities(imbalanced):
    X, y = imbalanced
    clf = quiet(loss="focal", focal_alpha=0.5, focal_gamma=1.0).fit(X, y)
    assert isinstance(clf.criterion_, FocalLoss)
    assert clf.criterion_.alpha == 0.5 and clf.criterion_.gamma == 1.0
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


class TakesInputDim(nn.Module):
    def __init__(self, input_dim, width=4):
        super().__init__()
        self.layer = nn.Linear(input_dim, 1)
        self.width = width

    def forward(self, X):
        return self.layer(X)  # (n, 1): skorch flattens it


def test_user_module_class_gets_input_dim_and_instance_is_used_as_given(imbalanced):
    X, y = imbalanced
    clf = quiet(module=TakesInputDim, module__width=7).fit(X, y)
    assert clf.module_.layer.in_features == X.shape[1] and clf.module_.width == 7
    instance = nn.Sequential(nn.Linear(X.shape[1], 1))
    clf = quiet(module=instance).fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 2)


def test_default_module_is_configurable(imbalanced):
    X, y = imbalanced
    clf = quiet(module__hidden_units=(5, 3), module__dropout=0.0).fit(X, y)
    assert isinstance(clf.module_, MLP)
    widths = [m.out_features for m in clf.module_.modules() if isinstance(m, nn.Linear)]
    assert widths == [5, 3, 1]


def test_device_auto_resolves_to_cpu_without_cuda(imbalanced):
    X, y = imbalanced
    clf = quiet().fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_ == expected
    assert next(clf.module_.parameters()).device.type == expected
    assert clf.get_params()["device"] == "auto"


def test_partial_fit_continues_and_checks_labels(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=1)
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert len(clf.history) == 2
    with pytest.raises(ValueError, match=r"labels \[5\] not seen"):
        clf.partial_fit(X, np.where(y == 1, 5, 0))


# -- errors: each names the bad value and what is valid ---------------------------
@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "hinge"}, r"loss='hinge' is not one of 'bce', 'focal'"),
        ({"pos_weight": 0}, r"pos_weight=0; pos_weight must be a finite float > 0"),
        ({"pos_weight": -2.0}, r"pos_weight=-2.0"),
        (
            {"pos_weight": "inverse"},
            r"pos_weight='inverse' is not one of None, a float > 0, "
            r"'balanced', 'sqrt'",
        ),
        ({"pos_weight": lambda y: -1.0}, r"gave -1.0"),
        (
            {"sampler": "magic"},
            r"sampler='magic' is not one of None, 'batch_balanced', "
            r"'weighted', 'undersample', 'oversample'",
        ),
        (
            {"weight_schedule": "cosine"},
            r"weight_schedule='cosine' is not one of None, "
            r"'linear', 'plateau', 'deferred'",
        ),
        (
            {"focal_alpha": 1.5},
            r"focal_alpha must be None or a float in \[0, 1\], got 1.5",
        ),
        ({"focal_gamma": -1}, r"focal_gamma must be a float >= 0, got -1"),
        ({"device": "tpu:0"}, r"device='tpu:0' is not 'auto' or a torch device"),
        ({"random_state": 1.5}, r"random_state must be None or an int, got 1.5"),
        ({"precision": "fp8"}, r"precision='fp8' is not one of None, 'bf16', 'fp16'"),
        (
            {"sampler__ratio": 2.0},
            r"sampler options \['ratio'\] were given, but sampler=None",
        ),
    ],
)
def test_bad_parameters_raise_clear_errors(imbalanced, params, match):
    X, y = imbalanced
    with pytest.raises((ValueError, TypeError), match=match):
        quiet(**params).fit(X, y)


def test_bad_data_raise_clear_errors(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match=r"only one class: \[0\]"):
        quiet().fit(X, np.zeros(len(y), dtype=int))
    with pytest.raises(
        ValueError, match=r"Only binary classification.*3 classes: \[0, 1, 2\]"
    ):
        quiet().fit(X, np.arange(len(y)) % 3)
    bad = X.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        quiet().fit(bad, y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        quiet().fit(X)
    clf = quiet(max_epochs=1).fit(X, y)
    bad[3, 2] = np.nan  # a model fitted without missing values has no imputation
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(bad)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_batch_balanced_without_positive_in_training_rows_is_named(imbalanced):
    X, y = imbalanced
    # One positive in 50 rows: the stratified split sends it to the validation fold.
    X_small, y_small = X[:50], np.r_[1, np.zeros(49, dtype=int)]
    with pytest.raises(
        ValueError,
        match=r"BatchBalancedSampler needs both classes.*"
        r"40 negative\(s\) and 0 positive\(s\)",
    ):
        quiet(sampler="batch_balanced").fit(X_small, y_small)
    with pytest.raises(
        ValueError, match=r"class weight from 40 negative\(s\) and 0 pos"
    ):
        quiet().fit(X_small, y_small)
