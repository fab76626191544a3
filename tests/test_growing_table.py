"""A fit on a table that another process is appending to sees one snapshot.

The writer is a real process (a fork of the test process) calling
``write_sqlite(..., if_exists="append")`` chunk after chunk while the fit reads.
"""

import multiprocessing
import os
import pickle
import shutil
import signal

import numpy as np
import pytest

from skimb import ImbalancedNetClassifier
from skimb.data import SQLiteDataset, write_sqlite

ROWS, FEATURES, CHUNK = 3_000, 6, 400
pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, FEATURES)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=n) > 2.2).astype(np.int64)
    return X, y


def _append_forever(path, started):
    def chunks():
        for i in range(10_000):
            yield _rows(CHUNK, 100 + i)
            if i == 1:
                started.set()  # the first chunk is committed

    write_sqlite(path, chunks(), if_exists="append")
    os._exit(0)


@pytest.fixture
def growing(tmp_path):
    """A table of ROWS rows, a frozen copy of it, and a dataset opened on it
    before a writer process starts appending to it (stopped at teardown)."""
    path, frozen = str(tmp_path / "growing.db"), str(tmp_path / "frozen.db")
    write_sqlite(path, *_rows(ROWS, 0))
    shutil.copy(path, frozen)
    ds = SQLiteDataset(path)  # labels not read yet: read while the writer writes
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    writer = ctx.Process(target=_append_forever, args=(path, started))
    writer.start()
    try:
        assert started.wait(60), "the writer never committed a chunk"
        yield ds, frozen
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()


def test_a_fit_reads_the_rows_present_when_the_dataset_was_opened(growing):
    ds, frozen = growing
    params = dict(random_state=0, max_epochs=3, bagging=None, verbose=0)
    clf = ImbalancedNetClassifier(**params).fit(ds)
    assert ds.rows_appended() > 0  # the table grew during the fit
    assert len(ds) == ROWS and len(ds.labels) == ROWS
    # The same model as a fit of the table as it was: same rows, whole epochs.
    reference = ImbalancedNetClassifier(**params).fit(SQLiteDataset(frozen))
    expected = reference.predict_proba(SQLiteDataset(frozen))
    np.testing.assert_array_equal(clf.predict_proba(ds), expected)
    assert len(clf.history) == 3


def test_copies_of_a_dataset_keep_its_snapshot_and_reopened_reads_the_new_rows(
    growing,
):
    ds, frozen = growing
    copy = pickle.loads(pickle.dumps(ds))  # a worker's copy, opened after appends
    assert len(copy) == ROWS
    np.testing.assert_array_equal(copy.labels, SQLiteDataset(frozen).labels)
    fresh = ds.reopened()
    assert len(fresh) > ROWS
    assert (len(fresh) - ROWS) % CHUNK == 0  # whole chunks, never part of one
    np.testing.assert_array_equal(fresh.labels[:ROWS], ds.labels)
