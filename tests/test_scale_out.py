"""Scale-out with real engines: a Dask LocalCluster of worker processes, joblib's
loky workers, threadpoolctl limits. Small data: each test takes a few seconds."""

import os

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed, parallel_config
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from skimb.data import ParquetDataset, SQLiteDataset, write_sqlite
from skimb.threads import cooperative_threads, task_threads
from tests.conftest import quiet

distributed = pytest.importorskip("distributed")


class TorchThreads(Callback):
    """Records the torch threads in force while the fit trains."""

    def on_epoch_begin(self, net, **kwargs):
        net.threads_seen_ = torch.get_num_threads()


@pytest.fixture(scope="module")
def cluster():
    # processes=True: workers are separate processes, as on a real cluster.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=600) > 1.5).astype(int)
    return X, y


GRID = {"pos_weight": ["balanced", "sqrt"], "loss": ["bce", "focal"]}


def test_grid_search_on_a_dask_cluster_matches_the_local_search(cluster, small):
    X, y = small
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = GridSearchCV(quiet(), GRID, cv=cv, scoring="average_precision")
    with parallel_config(backend="dask"):
        on_dask = search.fit(X, y).cv_results_["mean_test_score"]
    local = GridSearchCV(quiet(), GRID, cv=cv, scoring="average_precision", n_jobs=1)
    local = local.fit(X, y).cv_results_["mean_test_score"]
    # random_state makes every fit reproducible, wherever it runs
    np.testing.assert_allclose(on_dask, local, rtol=1e-6)
    assert np.isfinite(on_dask).all()


def test_cross_validate_on_a_sqlite_dataset_on_dask(cluster, small, tmp_path):
    X, y = small
    path = tmp_path / "rows.db"
    write_sqlite(path, X, y)
    ds = SQLiteDataset(path)
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    with parallel_config(backend="dask"):
        on_dask = cross_validate(quiet(), ds, ds.labels, cv=cv, scoring="roc_auc")
    local = cross_validate(quiet(), ds, ds.labels, cv=cv, scoring="roc_auc")
    np.testing.assert_allclose(on_dask["test_score"], local["test_score"], rtol=1e-6)
    # each worker opened its own read-only connection; the file is unchanged
    assert SQLiteDataset(path).shape == X.shape


def test_cross_validate_on_a_parquet_dataset_on_dask(cluster, small, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    X, y = small
    columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({**columns, "label": y}), path, row_group_size=200)
    before = path.read_bytes()
    ds = ParquetDataset(path)
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    with parallel_config(backend="dask"):
        on_dask = cross_validate(quiet(), ds, ds.labels, cv=cv, scoring="roc_auc")
    local = cross_validate(quiet(), ds, ds.labels, cv=cv, scoring="roc_auc")
    # every worker read the same path, with handles of its own
    np.testing.assert_allclose(on_dask["test_score"], local["test_score"], rtol=1e-6)
    assert path.read_bytes() == before


def _fit_in_worker(X, y):
    clf = quiet(callbacks=[TorchThreads()]).fit(X, y)
    return clf.threads_seen_, torch.get_num_threads(), os.getpid()


def test_fits_in_dask_workers_use_one_thread_each(cluster, small):
    X, y = small
    futures = [cluster.submit(_fit_in_worker, X, y, pure=False) for _ in range(2)]
    for during, after, pid in cluster.gather(futures):
        assert during == 1 and pid != os.getpid()
        assert after == 1  # the worker's own setting, restored


def test_loky_workers_get_their_share_of_the_cores(small):
    X, y = small
    results = Parallel(n_jobs=2)(delayed(_fit_in_worker)(X, y) for _ in range(2))
    share = max(1, (os.cpu_count() or 1) // 2)
    assert all(during == share for during, _, _ in results)


def test_threadpool_limits_apply_to_the_fit_and_nothing_is_left_changed(small):
    X, y = small
    before = torch.get_num_threads()
    with threadpool_limits(1):
        clf = quiet(callbacks=[TorchThreads()]).fit(X, y)
    assert clf.threads_seen_ == 1
    assert torch.get_num_threads() == before
    assert task_threads() is None  # outside Dask: torch's own setting stands
    with cooperative_threads():
        assert torch.get_num_threads() == before


def test_a_threaded_dask_worker_gives_each_fit_one_thread(small):
    X, y = small
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as local,
        distributed.Client(local) as client,
    ):
        before = torch.get_num_threads()
        during, after, pid = client.submit(_fit_in_worker, X, y).result()
    assert pid == os.getpid()  # the worker's threads live in this process
    assert during == 1
    assert after == before == torch.get_num_threads()
