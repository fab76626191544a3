"""The batched in-memory data path, user datasets, mixed precision and CUDA."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset as SkorchDataset

from skimb.data import ArrayDataset, collate
from tests.conftest import RecordBatches, quiet

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_batched_path_yields_the_same_batches_as_skorch_dataset(imbalanced):
    X, y = imbalanced
    runs = []
    for dataset in (ArrayDataset, SkorchDataset):
        recorder = RecordBatches()
        clf = quiet(dataset=dataset, callbacks=[recorder]).fit(X, y)
        runs.append((recorder.batches_, clf.predict_proba(X)))
    (fast, p_fast), (plain, p_plain) = runs
    assert len(fast) == len(plain)
    for (xf, yf), (xp, yp) in zip(fast, plain, strict=True):
        np.testing.assert_array_equal(xf, xp)
        np.testing.assert_array_equal(yf, yp)
    np.testing.assert_array_equal(p_fast, p_plain)  # no regression in results


def test_array_dataset_getitems_is_one_indexing_operation():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    ds = ArrayDataset(X, np.arange(10) % 2)
    Xb, yb = collate(ds.__getitems__([3, 1]))
    assert Xb.dtype == torch.float32
    np.testing.assert_array_equal(Xb.numpy(), X[[3, 1]])
    np.testing.assert_array_equal(yb.numpy(), [1.0, 1.0])
    # rows one by one still collate as torch does
    Xr, yr = collate([ds[3], ds[1]])
    np.testing.assert_array_equal(Xr.numpy(), Xb.numpy())


def test_user_torch_dataset_still_works(imbalanced):
    X, y = imbalanced
    user_ds = torch.utils.data.TensorDataset(
        torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    )
    clf = quiet(sampler="batch_balanced").fit(user_ds, y)
    assert clf.predict_proba(user_ds).shape == (len(y), 2)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_with_finite_focal_loss(imbalanced, precision):
    X, y = imbalanced
    clf = quiet(precision=precision, loss="focal").fit(X, y)
    losses = clf.history[:, "train_loss"]
    assert np.isfinite(losses).all()
    assert np.isfinite(clf.predict_proba(X)).all()


@cuda
def test_cuda_fit_predict_and_pickle_to_cpu(imbalanced, tmp_path):
    import pickle

    X, y = imbalanced
    clf = quiet(device="auto", dataset__device="auto").fit(X, y)
    assert clf.device_ == "cuda"
    assert next(clf.module_.parameters()).is_cuda
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(
        restored.predict_proba(X), clf.predict_proba(X), rtol=1e-5
    )


@cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_mixed_precision(imbalanced, precision):
    X, y = imbalanced
    clf = quiet(device="cuda", precision=precision, loss="focal").fit(X, y)
    assert np.isfinite(clf.history[:, "train_loss"]).all()


def test_model_fitted_with_auto_device_loads_where_no_cuda(imbalanced):
    import pickle

    X, y = imbalanced
    clf = quiet().fit(X, y)
    state = clf.__getstate__()
    assert state["device"] in ("cpu", "cuda")  # where the tensors live, for mapping
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.get_params()["device"] == "auto"


def test_data_device_auto_keeps_data_on_the_gpu_only_when_it_fits(monkeypatch):
    from skimb.devices import data_device

    assert data_device("cpu", 10) is None
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    assert data_device("cuda", 250) == "cuda"
    assert data_device("cuda:1", 251) is None


def test_training_and_prediction_batches_are_index_arrays_not_int_lists(imbalanced):
    from skimb.data import batches

    X, y = imbalanced
    seen = []
    original = batches.ArrayDataset.__getitems__

    def spy(self, indices):
        seen.append(type(indices))
        return original(self, indices)

    try:
        batches.ArrayDataset.__getitems__ = spy
        clf = quiet(max_epochs=1).fit(X, y)
        clf.predict_proba(X)
        quiet(max_epochs=1, sampler="batch_balanced").fit(X, y)
        quiet(max_epochs=1, sampler="undersample").fit(X, y)
    finally:
        batches.ArrayDataset.__getitems__ = original
    assert seen and not any(issubclass(t, list) for t in seen)


@pytest.mark.parametrize("scan_rows", [1, 3, 1 << 20])
def test_positions_of_and_consecutive_runs_in_chunks(scan_rows, monkeypatch):
    from skimb.data import index
    from skimb.data.batches import IndexSubset
    from skimb.data.index import arange_into, positions_of

    monkeypatch.setattr(index, "SCAN_ROWS", scan_rows)
    flags = np.random.default_rng(0).integers(0, 3, 50)
    for value, start, stop in [(1, 0, None), (0, 7, 31), (2, 49, 50), (1, 5, 5)]:
        expected = np.flatnonzero(flags[start:stop] == value) + start
        got = positions_of(flags, value, start, stop)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.int32
    for start, size in [(0, 0), (5, 1), (3, 7), (10, 50)]:
        out = np.zeros(size + 1, dtype=np.int32)
        arange_into(out[1:], start)
        np.testing.assert_array_equal(out, np.r_[0, np.arange(start, start + size)])
    data = np.arange(100)
    assert IndexSubset(data, np.arange(10, 20))._runs
    assert not IndexSubset(data, [10, 12, 11, 13])._runs  # span fits, order does not
    assert not IndexSubset(data, [3, 5])._runs
