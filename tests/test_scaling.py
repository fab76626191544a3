import numpy as np
import pytest
import torch

import skimb.scaling
from skimb import SQLiteDataset, write_sqlite
from skimb.data.sqlite import BLOCK_ROWS
from skimb.scaling import CLIP, FeatureScaler, scaling_sample
from tests.conftest import quiet


def _raw_features(n=2_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1e-3, 1.0, 1e3, 1e5] + [0, 5, -1e4, 1e6]
    X[:, 1] = rng.exponential(size=n)  # skewed
    return X


def test_standard_scaling_in_blocks_matches_float64_reference():
    X = _raw_features()
    blocks = [
        torch.as_tensor(X[i : i + 300], dtype=torch.float32)
        for i in range(0, len(X), 300)
    ]
    scaler = FeatureScaler("standard").fit(blocks)
    X32 = X.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(scaler.center_, X32.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, X32.std(axis=0), rtol=1e-9)
    Z = scaler.transform(torch.as_tensor(X, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(Z, (X - X32.mean(0)) / X32.std(0), atol=1e-6)


def test_robust_scaling_against_quantiles_and_smooth_clip():
    X = _raw_features()
    scaler = FeatureScaler("robust").fit([X[:1000], X[1000:]], n_rows=len(X))
    q25, q50, q75 = np.quantile(X, [0.25, 0.5, 0.75], axis=0)
    np.testing.assert_allclose(scaler.center_, q50)
    np.testing.assert_allclose(scaler.scale_, q75 - q25)
    Z = scaler.transform(torch.as_tensor(X)).numpy()
    u = (X - q50) / (q75 - q25)
    np.testing.assert_allclose(Z, u / np.sqrt(1 + (u / CLIP) ** 2), atol=1e-9)
    assert np.abs(Z).max() < CLIP


def test_constant_features_are_centred_not_divided_by_zero():
    X = np.column_stack([np.ones(100), np.r_[np.zeros(90), np.arange(1, 11)]])
    for method in ("standard", "robust"):
        scaler = FeatureScaler(method).fit([X], n_rows=100)
        Z = scaler.transform(torch.as_tensor(X)).numpy()
        assert np.isfinite(Z).all()
        assert (Z[:, 0] == 0).all()
        assert Z[:, 1].std() > 0  # a mostly-zero column still varies after scaling


def test_robust_sample_is_bounded(monkeypatch):
    import skimb.scaling as scaling

    monkeypatch.setattr(scaling, "ROBUST_SAMPLE_ROWS", 500)
    X = _raw_features(20_000)
    blocks = [X[i : i + 1000] for i in range(0, len(X), 1000)]
    scaler = FeatureScaler("robust").fit(
        blocks, n_rows=len(X), generator=torch.Generator().manual_seed(0)
    )
    q50 = np.quantile(X, 0.5, axis=0)
    iqr = np.subtract(*np.quantile(X, [0.75, 0.25], axis=0))
    assert np.all(np.abs(scaler.center_ - q50) < 0.2 * iqr)


@pytest.mark.parametrize("scaling", ["standard", "robust"])
def test_classifier_scales_on_training_rows_only(imbalanced, scaling):
    X, y = imbalanced
    X = _raw_features(len(y))[:, :3] + X[:, :3] * [1e-3, 1.0, 1e3]
    clf = quiet(scaling=scaling, train_split=None, max_epochs=1).fit(X, y)
    reference = FeatureScaler(scaling).fit([X], n_rows=len(X))
    np.testing.assert_allclose(clf.scaler_.center_, reference.center_, rtol=1e-5)
    with_split = quiet(scaling=scaling, max_epochs=1).fit(X, y)
    assert not np.allclose(with_split.scaler_.center_, reference.center_, rtol=1e-9)


def test_raw_features_train_as_well_as_prescaled(imbalanced):
    X, y = imbalanced
    scales = np.array([1e-3, 1e4, 1.0, 1e2, 1e-2, 1e5, 1.0, 10.0, 1e3, 1e-1])
    raw = quiet(max_epochs=8).fit(X * scales + 1e3, y)
    scaled = quiet(max_epochs=8).fit(X, y)
    unscaled = quiet(max_epochs=8, scaling=None).fit(X * scales + 1e3, y)
    ap = lambda clf, data: clf.history[-1, "valid_ap"]  # noqa: E731
    assert ap(raw, X) > ap(unscaled, X) + 0.05
    assert abs(ap(raw, X) - ap(scaled, X)) < 0.1


def test_scaling_streams_a_sqlite_dataset_in_blocks(tmp_path, imbalanced):
    X, y = imbalanced
    X = (X * 100 + 7).astype(np.float32)
    path = tmp_path / "raw.db"
    write_sqlite(path, X, y)
    ds = SQLiteDataset(path)
    params = dict(train_split=None, max_epochs=1, batch_size=128)
    from_db = quiet(scaling="standard", **params).fit(ds, None)
    # the same sampler as sampler=None picks for the SQLite file
    from_arrays = quiet(scaling="standard", sampler="block_shuffle", **params).fit(X, y)
    np.testing.assert_allclose(
        from_db.scaler_.center_, from_arrays.scaler_.center_, rtol=1e-6
    )
    np.testing.assert_allclose(
        from_db.scaler_.scale_, from_arrays.scaler_.scale_, rtol=1e-6
    )
    np.testing.assert_allclose(
        from_db.predict_proba(ds), from_arrays.predict_proba(X), atol=1e-5
    )


def test_partial_fit_keeps_the_first_scaling(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=1, train_split=None).partial_fit(X, y)
    first = clf.scaler_
    clf.partial_fit(X * 10, y)
    assert clf.scaler_ is first
    clf.fit(X * 10, y)
    assert clf.scaler_ is not first


@pytest.mark.parametrize("seed", range(5))
def test_scaling_sample_takes_whole_stored_blocks(seed, monkeypatch):
    monkeypatch.setattr(skimb.scaling, "SCALING_SAMPLE_ROWS", 1000)
    rng = np.random.default_rng(seed)
    stored_at = np.sort(rng.choice(20_000, 8000, replace=False))  # a split's rows
    generator = torch.Generator().manual_seed(seed)
    assert scaling_sample(stored_at[:1000], generator) is None  # few rows: all
    rows = scaling_sample(stored_at, generator)
    block = stored_at // BLOCK_ROWS
    chosen = np.unique(block[rows])
    # whole blocks: every training row of a chosen block, none of the others
    np.testing.assert_array_equal(rows, np.flatnonzero(np.isin(block, chosen)))
    # just enough of them: the last block drawn crossed the target
    assert 1000 <= len(rows) < 1000 + np.bincount(block).max()
    # blocks from all over the file, not its start
    assert chosen.max() - chosen.min() > 0.5 * block.max()
    # the same rows in another order: the same stored rows drawn
    shuffled = rng.permutation(stored_at.size)
    again = scaling_sample(stored_at[shuffled], torch.Generator().manual_seed(seed))
    expected = scaling_sample(stored_at, torch.Generator().manual_seed(seed))
    assert np.all(np.diff(again) > 0)
    np.testing.assert_array_equal(
        np.sort(stored_at[shuffled][again]), stored_at[expected]
    )


def test_a_large_training_set_is_scaled_on_a_sample_the_same_on_disk(
    tmp_path, imbalanced, monkeypatch
):
    monkeypatch.setattr(skimb.scaling, "SCALING_SAMPLE_ROWS", 600)
    X, y = imbalanced
    X = (X * 100 + 7).astype(np.float32)
    path = tmp_path / "raw.db"
    write_sqlite(path, X, y)
    params = dict(max_epochs=1, scaling="standard", random_state=3)
    from_db = quiet(**params).fit(SQLiteDataset(path), None)
    from_arrays = quiet(sampler="block_shuffle", **params).fit(X, y)
    np.testing.assert_allclose(
        from_db.scaler_.center_, from_arrays.scaler_.center_, rtol=1e-6
    )
    # a sample: close to the training rows' statistics, but not all of them
    full = X.mean(axis=0)
    assert not np.allclose(from_db.scaler_.center_, full, rtol=1e-6)
    np.testing.assert_allclose(from_db.scaler_.center_, full, atol=0.5 * X.std(0).max())
