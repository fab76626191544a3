import numpy as np
import pytest
import sklearn
import torch
from sklearn.metrics import average_precision_score, make_scorer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skimb import SQLiteDataset, write_sqlite
from tests.conftest import RecordBatches, quiet


def test_weighted_loss_against_reference(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=1, train_split=None, device="cpu").fit(X, y)
    logits = torch.linspace(-3, 3, 10, dtype=torch.float32)
    targets = torch.tensor([0, 1] * 5, dtype=torch.float32)
    weights = torch.arange(10, dtype=torch.float32) / 4.5
    loss = clf.get_loss(logits, torch.stack([targets, weights], 1))
    w_pos = clf.pos_weight_
    z, t, w = logits.double(), targets.double(), weights.double()
    per_row = -(
        w_pos * t * torch.nn.functional.logsigmoid(z)
        + (1 - t) * torch.nn.functional.logsigmoid(-z)
    )
    assert loss.item() == pytest.approx((per_row * w).mean().item(), rel=1e-6)
    assert clf.criterion_.reduction == "mean"  # restored after the weighted call


def test_integer_weights_act_like_repeated_rows_in_the_loss(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=1, train_split=None, device="cpu").fit(X, y)
    logits = torch.randn(6)
    targets = torch.tensor([0.0, 1, 0, 0, 1, 0])
    counts = torch.tensor([1.0, 3, 1, 2, 1, 1])
    repeated = clf.get_loss(
        logits.repeat_interleave(counts.long()),
        targets.repeat_interleave(counts.long()),
    )
    weighted = clf.get_loss(logits, torch.stack([targets, counts / counts.mean()], 1))
    assert weighted.item() == pytest.approx(repeated.item(), rel=1e-6)


def test_fit_passes_normalised_weights_to_every_batch(imbalanced):
    X, y = imbalanced
    w = np.where(y == 1, 3.0, 1.0) * 7  # scale does not matter
    recorder = RecordBatches()
    quiet(max_epochs=1, train_split=None, callbacks=[recorder]).fit(
        X, y, sample_weight=w
    )
    targets = np.concatenate([b[1] for b in recorder.batches_])
    assert targets.shape[1] == 2
    expected = w / w.mean()
    np.testing.assert_allclose(np.sort(targets[:, 1]), np.sort(expected), rtol=1e-6)
    np.testing.assert_allclose(
        targets[targets[:, 0] == 1, 1], expected[y == 1][0], rtol=1e-6
    )


def test_zero_weights_change_the_fit(imbalanced):
    X, y = imbalanced
    w = np.ones(len(y))
    w[: len(y) // 2] = 0.0
    a = quiet(max_epochs=2).fit(X, y).predict_proba(X)
    b = quiet(max_epochs=2).fit(X, y, sample_weight=w).predict_proba(X)
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones(3), r"shape \(1500,\)"),
        (np.r_[-1.0, np.ones(1499)], ">= 0"),
        (np.r_[np.nan, np.ones(1499)], "finite"),
        (np.zeros(1500), "all zero"),
    ],
)
def test_bad_sample_weight_is_named(imbalanced, bad, match):
    X, y = imbalanced
    with pytest.raises(ValueError, match=match):
        quiet().fit(X, y, sample_weight=bad)


def test_sample_weight_with_a_sqlite_dataset(tmp_path, imbalanced):
    X, y = imbalanced
    path = tmp_path / "w.db"
    write_sqlite(path, X, y)
    ds = SQLiteDataset(path)
    w = np.linspace(0.5, 1.5, len(y))
    recorder = RecordBatches()
    quiet(max_epochs=1, train_split=None, callbacks=[recorder]).fit(
        ds, None, sample_weight=w
    )
    targets = np.concatenate([b[1] for b in recorder.batches_])
    np.testing.assert_allclose(np.sort(targets[:, 1]), np.sort(w / w.mean()), rtol=1e-5)


def _weighted_ap():
    scorer = make_scorer(average_precision_score, response_method="predict_proba")
    return scorer.set_score_request(sample_weight=True)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_grid_search_routes_sample_weight(routing, imbalanced):
    X, y = imbalanced
    w = np.where(y == 1, 2.0, 1.0)
    clf = quiet(max_epochs=1, callbacks=[RecordBatches()]).set_fit_request(
        sample_weight=True
    )
    search = GridSearchCV(
        clf, {"pos_weight": [None, "balanced"]}, cv=2, scoring=_weighted_ap()
    )
    search.fit(X, y, sample_weight=w)
    batches = dict(search.best_estimator_.callbacks_)["RecordBatches"].batches_
    weights = np.concatenate([b[1][:, 1] for b in batches])  # refit: on all rows
    np.testing.assert_allclose(
        np.unique(weights.round(5)), (np.array([1.0, 2.0]) / w.mean()).round(5)
    )


def test_cross_validate_and_pipeline_route_sample_weight(routing, imbalanced):
    X, y = imbalanced
    w = np.where(y == 1, 2.0, 1.0)
    recorder = RecordBatches()
    pipe = Pipeline(
        [
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            (
                "clf",
                quiet(max_epochs=1, callbacks=[recorder]).set_fit_request(
                    sample_weight=True
                ),
            ),
        ]
    )
    pipe.fit(X, y, sample_weight=w)
    assert all(b[1].shape[1] == 2 for b in recorder.batches_)
    result = cross_validate(
        pipe,
        X,
        y,
        params={"sample_weight": w},
        cv=StratifiedKFold(2),
        scoring=_weighted_ap(),
    )
    assert np.all(np.isfinite(result["test_score"]))


def test_without_request_routing_refuses_the_weight(routing, imbalanced):
    X, y = imbalanced
    search = GridSearchCV(quiet(max_epochs=1), {"pos_weight": [None]}, cv=2)
    with pytest.raises(Exception, match="sample_weight"):
        search.fit(X, y, sample_weight=np.ones(len(y)))
