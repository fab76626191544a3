"""SQLiteDataset and write_sqlite on real SQLite files."""

import pickle
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import StratifiedKFold, cross_val_score
from torch.utils.data import DataLoader

from skimb.data import SQLiteDataset, collate, write_sqlite
from skimb.data.sqlite import BLOCK_ROWS
from skimb.data.sqlite.labels import (
    ids_and_labels_from_index,
    read_id_label_rows,
    read_ids_and_labels,
)
from skimb.data.sqlite.reader import TableReader
from skimb.samplers import BlockShuffleSampler
from tests.conftest import RecordBatches, quiet


@pytest.fixture
def db(tmp_path, imbalanced):
    X, y = imbalanced
    path = tmp_path / "data.db"
    write_sqlite(path, X, y)
    return path, X.astype(np.float32), y


def test_round_trip(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    assert len(ds) == len(y) and ds.shape == X.shape
    np.testing.assert_array_equal(ds.labels, y)
    x0, y0 = ds[0]
    np.testing.assert_array_equal(x0, X[0])
    assert y0 == y[0]
    Xb, yb = ds.__getitems__([7, 3, 3, 1000])
    np.testing.assert_array_equal(Xb.numpy(), X[[7, 3, 3, 1000]])
    np.testing.assert_array_equal(yb.numpy(), y[[7, 3, 3, 1000]])


def test_chunked_write_and_append(tmp_path):
    rng = np.random.default_rng(0)
    chunks = [(rng.random((100, 5)), rng.integers(0, 2, 100)) for _ in range(4)]
    path = tmp_path / "chunks.db"
    write_sqlite(path, iter(chunks))
    ds = SQLiteDataset(path)
    X = np.concatenate([c[0] for c in chunks]).astype(np.float32)
    np.testing.assert_array_equal(ds.__getitems__(list(range(400)))[0].numpy(), X)
    with pytest.raises(ValueError, match=r"table 'data' already exists"):
        write_sqlite(path, X, np.zeros(400, dtype=int))
    write_sqlite(path, X[:10], np.zeros(10, dtype=int), if_exists="append")
    assert len(SQLiteDataset(path)) == 410
    write_sqlite(path, X[:10], np.zeros(10, dtype=int), if_exists="replace")
    assert len(SQLiteDataset(path)) == 10


def test_a_list_of_chunks_is_written(tmp_path):
    chunks = [(np.full((3, 2), i), [0, 1, 0]) for i in range(3)]
    write_sqlite(tmp_path / "list.db", chunks)
    ds = SQLiteDataset(tmp_path / "list.db")
    assert ds.shape == (9, 2) and ds[8][0].tolist() == [2.0, 2.0]


def test_a_failed_write_loses_nothing_and_creates_nothing(db, tmp_path):
    path, X, y = db
    bad = [(np.full((2, X.shape[1]), np.nan), [0, 1])]
    with pytest.raises(ValueError, match="NaN or infinity"):
        write_sqlite(path, bad, if_exists="replace")
    assert len(SQLiteDataset(path)) == len(y)  # the replaced table is still there
    with pytest.raises(ValueError, match="chunk has 3 features, the table has 10"):
        write_sqlite(path, np.ones((2, 3)), [0, 1], if_exists="append")
    # A label SQLite cannot store fails inside the transaction, after DROP TABLE:
    # the rollback brings the old table back.
    huge = np.array([0, 2**63], dtype=np.uint64)
    with pytest.raises(OverflowError):
        write_sqlite(path, np.ones((2, 3)), huge, if_exists="replace")
    assert len(SQLiteDataset(path)) == len(y)
    new = tmp_path / "new.db"
    for X_bad, match in [
        (bad, "NaN"),
        ([], "empty iterable"),
        (iter([np.ones((2, 2))]), "pairs, got an item of type ndarray"),
        (np.ones((2, 2)), "y is required when X is an array"),
    ]:
        with pytest.raises(ValueError, match=match):
            write_sqlite(new, X_bad)
        assert not new.exists()


def test_views_read_no_data_and_nest(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    view = ds[np.arange(100, 200)]
    assert isinstance(view, SQLiteDataset) and view.shape == (100, X.shape[1])
    inner = view[[5, 0, -1]]  # a view of a view indexes into its parent's rows
    np.testing.assert_array_equal(inner.labels, y[[105, 100, 199]])
    np.testing.assert_array_equal(inner.__getitems__([0, 2])[0].numpy(), X[[105, 199]])
    mask = y == 1
    np.testing.assert_array_equal(ds[mask].labels, y[mask])
    np.testing.assert_array_equal(ds[np.arange(5), ...].labels, y[:5])  # _safe_indexing
    np.testing.assert_array_equal(ds[10:20].labels, y[10:20])


def test_numeric_columns_and_blob_name(tmp_path):
    path = tmp_path / "cols.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE t (pk INTEGER PRIMARY KEY, a REAL, b REAL, c TEXT, y INT)"
        )
        conn.executemany(
            "INSERT INTO t (a, b, c, y) VALUES (?, ?, ?, ?)",
            [(i, 2.0 * i, "x", i % 2) for i in range(10)],
        )
    ds = SQLiteDataset(path, table="t", features=["b", "a"], label="y")
    np.testing.assert_array_equal(ds.__getitems__([3])[0].numpy(), [[6.0, 3.0]])
    np.testing.assert_array_equal(ds.labels, np.arange(10) % 2)


def test_pickles_by_path_and_works_in_workers(db):
    path, X, y = db
    ds = SQLiteDataset(path)[np.arange(0, 600)]
    assert len(ds.labels) == 600  # opens a connection and caches the columns
    restored = pickle.loads(pickle.dumps(ds))
    assert not restored.reader.connected()  # reopened lazily
    assert len(pickle.dumps(ds)) < 10_000
    np.testing.assert_array_equal(restored.labels, y[:600])
    loader = DataLoader(ds, batch_size=100, num_workers=2, collate_fn=collate)
    Xs = torch.cat([xb for xb, _ in loader]).numpy()
    np.testing.assert_array_equal(Xs, X[:600])


def test_works_in_spawned_workers(db):
    # spawn pickles the dataset (no connection, no cache) into fresh interpreters
    path, X, y = db
    ds = SQLiteDataset(path)[np.arange(100, 900)]
    sampler = BlockShuffleSampler(ds.labels, block_size=64, window=2, seed=0)
    loader = DataLoader(
        ds,
        batch_size=100,
        sampler=sampler,
        num_workers=2,
        multiprocessing_context="spawn",
        collate_fn=collate,
    )
    order = np.array(list(BlockShuffleSampler(ds.labels, 64, 2, seed=0)))
    Xs = torch.cat([xb for xb, _ in loader]).numpy()
    np.testing.assert_array_equal(Xs, X[100:900][order])


def test_classifier_fits_on_dataset_with_y_none(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    clf = quiet(sampler="batch_balanced").fit(ds, None)
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    proba_ds = clf.predict_proba(ds)
    np.testing.assert_allclose(proba_ds, clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    # same data, same seed, same sampler (on disk, batch_balanced reads its negatives
    # in blocks): the SQLite path trains exactly like the in-memory one
    in_memory = quiet(sampler="batch_balanced", sampler__block_size=256)
    in_memory = in_memory.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba_ds, in_memory, rtol=1e-5, atol=1e-6)


def test_cross_val_score_on_dataset(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(quiet(), ds, ds.labels, cv=cv, scoring="roc_auc")
    assert np.isfinite(scores).all() and scores.mean() > 0.8


def test_missing_file_raises_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(FileNotFoundError, match="nope.db"):
        SQLiteDataset(missing)
    assert not missing.exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_sqlite(tmp_path / "no_dir" / "x.db", np.ones((2, 2)), [0, 1])
    assert not (tmp_path / "no_dir").exists()


def test_errors_name_what_exists(db, tmp_path):
    path, X, y = db
    with pytest.raises(ValueError, match=r"no table 'rows'.*tables are \['data'\]"):
        SQLiteDataset(path, table="rows")
    with pytest.raises(
        ValueError,
        match=r"no label column 'target'.*\['id', 'features', "
        r"'label'\]",
    ):
        SQLiteDataset(path, label="target")
    with pytest.raises(ValueError, match=r"feature column\(s\) \['f1'\] not in table"):
        SQLiteDataset(path, features=["f1"])
    with pytest.raises(ValueError, match=r"if_exists='overwrite' is not one of"):
        write_sqlite(tmp_path / "a.db", X, y, if_exists="overwrite")


def test_corrupt_blob_names_the_row(db):
    path, X, y = db
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE data SET features = ? WHERE id = 42", (b"\x00" * 12,))
    ds = SQLiteDataset(path)
    with pytest.raises(ValueError, match=r"row id 42 .* not 10 float32 values"):
        ds.__getitems__(list(range(40, 45)))


def test_labels_not_two_classes(tmp_path, imbalanced):
    X, _ = imbalanced
    path = tmp_path / "three.db"
    write_sqlite(path, X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match=r"3 classes: \[0, 1, 2\]"):
        quiet().fit(SQLiteDataset(path), None)


def test_reads_while_another_connection_writes(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    writer = sqlite3.connect(path)
    writer.execute("BEGIN IMMEDIATE")  # a writer holding the reserved lock
    writer.execute(
        "INSERT INTO data (features, label) VALUES (?, 0)", (X[0].tobytes(),)
    )
    np.testing.assert_array_equal(ds.__getitems__([1])[0].numpy(), X[[1]])
    writer.commit()
    writer.close()


# -- block shuffling and the block cache ----------------------------------------------
def _batches(order, batch_size):
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@pytest.mark.parametrize("cache_mib", [64, 0.03, 0])  # 0.03 MiB: room for 3 blocks
def test_block_cache_serves_the_rows_asked_for(db, cache_mib):
    path, X, y = db
    ds = SQLiteDataset(path, cache_mib=cache_mib)
    sampler = BlockShuffleSampler(y, block_size=BLOCK_ROWS, window=2, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(2):  # two epochs
        order = np.array(list(sampler))
        for batch in _batches(order, 64) + [rng.integers(-len(y), len(y), 300)]:
            Xb, yb = ds.__getitems__(batch.tolist())
            np.testing.assert_array_equal(Xb.numpy(), X[batch])
            np.testing.assert_array_equal(yb.numpy(), y[batch])
    cache = ds.block_cache
    if cache_mib == 0:
        assert cache is None
    else:
        cached = np.flatnonzero(cache.slot_of >= 0)
        assert 0 < cached.size <= cache.capacity == (3 if cache_mib < 1 else 6)
        assert np.array_equal(np.sort(cache.block_in[cache.block_in >= 0]), cached)


def test_block_cache_is_left_alone_by_random_reads_of_a_large_table(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    rng = np.random.default_rng(1)
    for _ in range(50):  # 2 rows per block on average: read by key
        batch = rng.integers(0, len(y), 12)
        np.testing.assert_array_equal(ds.__getitems__(batch)[0].numpy(), X[batch])
    assert not np.any(ds.block_cache.slot_of >= 0)


def test_block_cache_reads_dense_blocks_whole_in_any_order(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    sparse = np.arange(0, 4 * BLOCK_ROWS, 96)  # < 4 rows per block: read by key
    np.testing.assert_array_equal(ds.__getitems__(sparse)[0].numpy(), X[sparse])
    assert not np.any(ds.block_cache.slot_of >= 0)
    in_order = np.arange(0, 2 * BLOCK_ROWS, 2)  # a pass in row order over a split
    np.testing.assert_array_equal(ds.__getitems__(in_order)[0].numpy(), X[in_order])
    np.testing.assert_array_equal(np.flatnonzero(ds.block_cache.slot_of >= 0), [0, 1])
    rows_of_blocks_2_3 = np.arange(2 * BLOCK_ROWS, 4 * BLOCK_ROWS)
    window = np.random.default_rng(2).permutation(rows_of_blocks_2_3)[:100]
    np.testing.assert_array_equal(ds.__getitems__(window)[0].numpy(), X[window])
    np.testing.assert_array_equal(
        np.flatnonzero(ds.block_cache.slot_of >= 0), [0, 1, 2, 3]
    )
    rest = np.arange(1, 2 * BLOCK_ROWS, 2)  # the other rows: served from the cache
    with sqlite3.connect(path) as conn:  # (reading them from the file would fail)
        conn.execute("DELETE FROM data WHERE id <= 512")
    np.testing.assert_array_equal(ds.__getitems__(rest)[0].numpy(), X[rest])


def test_a_batch_opening_a_window_reads_its_few_rows_per_block_whole(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    ds.__getitems__(np.arange(2 * BLOCK_ROWS))  # blocks 0 and 1: the last window
    # Most rows from the last window, four from each block of the next one: read by
    # key, those blocks would be read again, whole, by the next batch.
    opening = np.r_[
        np.arange(0, 2 * BLOCK_ROWS, 5), np.arange(2 * BLOCK_ROWS, 4 * BLOCK_ROWS, 64)
    ]
    np.testing.assert_array_equal(ds.__getitems__(opening)[0].numpy(), X[opening])
    np.testing.assert_array_equal(
        np.flatnonzero(ds.block_cache.slot_of >= 0), [0, 1, 2, 3]
    )


def test_cache_blocks_is_what_the_cache_holds(db):
    path, X, y = db
    block_mib = BLOCK_ROWS * X.shape[1] * 4 / 2**20
    assert SQLiteDataset(path, cache_mib=2.5 * block_mib).cache_blocks() == 2
    assert SQLiteDataset(path).cache_blocks() == -(-len(y) // BLOCK_ROWS)  # all
    assert SQLiteDataset(path, cache_mib=0).cache_blocks() == 0


def test_reads_passing_through_leave_the_cache_as_it_was(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    ds.__getitems__(np.arange(BLOCK_ROWS))  # block 0 in the cache
    ds.hold_rows([1400])
    before = ds.block_cache.slot_of.copy()
    rows = np.r_[
        np.arange(0, BLOCK_ROWS, 7),  # cached
        np.arange(BLOCK_ROWS, 4 * BLOCK_ROWS, 2),  # dense: read whole, not kept
        [5 * BLOCK_ROWS + 3, 1400],  # a lone row (by key) and a held one
    ]
    rows = np.random.default_rng(0).permutation(rows)
    with ds.passing_through():
        np.testing.assert_array_equal(ds.__getitems__(rows)[0].numpy(), X[rows])
    np.testing.assert_array_equal(ds.block_cache.slot_of, before)
    np.testing.assert_array_equal(ds.__getitems__(rows)[0].numpy(), X[rows])
    assert np.all(ds.block_cache.slot_of[1:4] >= 0)  # outside the block: kept again


def test_joined_blob_reads_equal_row_reads(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    ids = read_ids_and_labels(ds.reader)[0]
    for first, last in [(0, BLOCK_ROWS - 1), (BLOCK_ROWS, 2 * BLOCK_ROWS - 1),
                        (len(y) - 7, len(y) - 1)]:  # fmt: skip
        joined = ds.reader.read_joined_blobs(ids[first : last + 1])
        np.testing.assert_array_equal(joined, X[first : last + 1])
        np.testing.assert_array_equal(
            joined, ds.reader.read_features(ids[first : last + 1])
        )


def test_a_bad_blob_in_a_block_is_named_by_the_row_read(db):
    path, X, y = db
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE data SET features = x'0000' WHERE id = 300")
    ds = SQLiteDataset(path)
    window = np.random.default_rng(0).permutation(np.arange(BLOCK_ROWS, 2 * BLOCK_ROWS))
    with pytest.raises(ValueError, match="row id 300 .* not 10 float32"):
        ds.__getitems__(window[:64])


def test_ids_and_labels_read_by_counts_equal_a_row_by_row_read(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 4)).astype(np.float32)
    for labels in (np.where(rng.random(3000) < 0.03, "fraud", "ok"),  # strings
                   (rng.random(3000) < 0.5).astype(int),
                   (rng.random(3000) < 0.03) + 0.0,  # floats
                   rng.integers(0, 3, 3000),  # three values: not for a classifier
                   np.ones(3000, dtype=int)):  # fmt: skip
        path = tmp_path / f"{labels.dtype.kind}{len(np.unique(labels))}.db"
        rows = [
            (i, *map(float, x), label)
            for i, (x, label) in enumerate(zip(X, labels.tolist(), strict=True))
        ]
        with sqlite3.connect(path) as conn:  # a user's table: columns, ids with gaps
            conn.execute("CREATE TABLE data (id INTEGER PRIMARY KEY, a, b, c, d, y)")
            conn.executemany("INSERT INTO data VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute("DELETE FROM data WHERE id % 7 = 3")
        ds = SQLiteDataset(path, label="y")
        want_ids, want = read_id_label_rows(ds.reader)
        for indexed in (False, True):  # a scan, or the label index write_sqlite makes
            if indexed:
                with sqlite3.connect(path) as conn:
                    conn.execute("CREATE INDEX data_y ON data(y)")
            ds = SQLiteDataset(path, label="y")
            from_index = ids_and_labels_from_index(ds.reader)
            binary = len(np.unique(labels)) == 2
            assert (from_index is not None) == (indexed and binary)
            ids, got = read_ids_and_labels(ds.reader)
            np.testing.assert_array_equal(ids, want_ids)
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype and len(ids) == 3000 - 429
            whole = SQLiteDataset(path, label="y")
            np.testing.assert_array_equal(whole[np.arange(5)].labels, want[:5])


def test_write_sqlite_indexes_the_labels(tmp_path, imbalanced):
    X, y = imbalanced
    path = tmp_path / "data.db"
    write_sqlite(path, X, y)
    write_sqlite(path, X, y, if_exists="replace")
    write_sqlite(path, X, y, if_exists="append")
    with sqlite3.connect(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM data WHERE label = 1"
        ).fetchall()
    assert "INDEX data_label" in str(plan)
    ids, labels = ids_and_labels_from_index(SQLiteDataset(path).reader)
    np.testing.assert_array_equal(labels, np.r_[y, y])
    np.testing.assert_array_equal(ids, np.arange(1, 2 * len(y) + 1))


def test_pickle_drops_the_block_cache(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    order = np.array(list(BlockShuffleSampler(y, window=2, seed=0)))
    for batch in _batches(order, 128):
        ds.__getitems__(batch.tolist())
    assert np.any(ds.block_cache.slot_of >= 0)
    restored = pickle.loads(pickle.dumps(ds))
    assert restored.block_cache is None and len(pickle.dumps(ds)) < 10_000
    np.testing.assert_array_equal(
        restored.__getitems__(order[:50])[0].numpy(), X[order[:50]]
    )


def test_rows_deleted_after_opening_raise(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    assert len(ds.labels) == len(y)  # the ids are read now
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM data WHERE id BETWEEN 11 AND 20")
    with pytest.raises(RuntimeError, match=r"changed while it was read: 10 of the row"):
        ds.__getitems__(list(range(0, 40, 2)) + [1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
    order = np.random.default_rng(0).permutation(BLOCK_ROWS)[:64]
    with pytest.raises(RuntimeError, match="open a new SQLiteDataset"):
        ds.__getitems__(order.tolist())  # reads block 0 whole


@pytest.mark.parametrize("bad", [-1, "64", True, float("nan")])
def test_cache_mib_must_be_a_number(db, bad):
    with pytest.raises(ValueError, match=r"cache_mib must be a number >= 0, got"):
        SQLiteDataset(db[0], cache_mib=bad)


def test_classifier_block_shuffle_on_sqlite_trains_like_in_memory(db):
    path, X, y = db
    ds = SQLiteDataset(path, cache_mib=0.05)
    recorder = RecordBatches()
    params = dict(
        sampler="block_shuffle",
        sampler__block_size=64,
        sampler__window=4,
        batch_size=64,
        callbacks=[recorder],
    )
    clf = quiet(**params).fit(ds, None)
    assert isinstance(clf.sampler_, BlockShuffleSampler)
    # Every row once per epoch: "balanced" sees the real class counts (the split
    # is stratified, so those of y).
    assert clf.pos_weight_ == pytest.approx((y == 0).sum() / (y == 1).sum(), rel=0.02)
    batches_ds = recorder.batches_
    # The blocks one epoch leaves in the cache open the next (the same order in
    # memory when asked for).
    assert clf.sampler_.reuse_blocks == 0.05 * 2**20 // (4 * X.shape[1] * 64) - 4
    params["sampler__reuse_blocks"] = clf.sampler_.reuse_blocks
    in_memory = quiet(**params).fit(X, y)
    for (xa, ya), (xb, yb) in zip(batches_ds, recorder.batches_, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    np.testing.assert_allclose(
        clf.predict_proba(ds), in_memory.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    assert np.any(
        ds.block_cache.slot_of >= 0
    )  # the window reads went through the cache


def test_fit_reads_a_permuted_view_in_storage_order(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    perm = np.random.default_rng(0).permutation(len(y))
    recorder = RecordBatches()
    quiet(
        callbacks=[recorder],
        train_split=None,
        iterator_train__shuffle=False,
        max_epochs=1,
    ).fit(ds[perm], None)
    seen = np.concatenate([xb for xb, _ in recorder.batches_])
    np.testing.assert_array_equal(seen, X)  # sorted back to id order
    # ... and the model is the one trained on the rows in file order
    a = quiet(train_split=None).fit(ds[perm], y[perm]).predict_proba(X)
    b = quiet(train_split=None).fit(ds, y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_block_shuffle_with_workers_trains_like_without(db):
    path, X, y = db
    params = dict(sampler="block_shuffle", sampler__window=2, batch_size=128)
    alone = quiet(**params).fit(SQLiteDataset(path), None)
    workers = quiet(iterator_train__num_workers=2, **params).fit(
        SQLiteDataset(path), None
    )
    np.testing.assert_allclose(
        alone.predict_proba(X), workers.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_batch_balanced_with_blocks_reads_through_the_cache(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    recorder = RecordBatches()
    quiet(
        sampler="batch_balanced",
        sampler__block_size=64,
        sampler__window=4,
        sampler__pos_per_batch=2,
        batch_size=64,
        callbacks=[recorder],
        max_epochs=1,
    ).fit(ds, None)
    assert all(int(yb.sum()) == 2 for _, yb in recorder.batches_)
    assert np.any(ds.block_cache.slot_of >= 0)


def test_each_thread_reads_through_its_own_connection(db):
    path, X, y = db
    ds = SQLiteDataset(path)
    with ThreadPoolExecutor(2) as pool:
        # both threads alive at once: their connections cannot be one reused
        barrier = threading.Barrier(2)
        conns = list(
            pool.map(lambda _: barrier.wait() or id(ds.reader.connection()), [0, 1])
        )
    assert len(set(conns + [id(ds.reader.connection())])) == 3


def test_threads_sharing_a_dataset_get_their_rows(tmp_path):
    # joblib's threading backend shares one dataset (and its block cache) between
    # threads; without the cache's lock this returned other rows' features.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 8)).astype(np.float32)
    y = (rng.random(20_000) < 0.05).astype(int)
    write_sqlite(tmp_path / "t.db", X, y)
    ds = SQLiteDataset(tmp_path / "t.db", cache_mib=0.2)  # 25 blocks: evictions

    def wrong_batches(seed):
        order = np.fromiter(BlockShuffleSampler(y, window=4, seed=seed), np.int64)
        return sum(
            not np.array_equal(ds.__getitems__(b)[0].numpy(), X[b])
            for b in _batches(order, 128)
        )

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(wrong_batches, range(8))) == 0


# -- out-of-core by default ------------------------------------------------------------
def test_sampler_none_block_shuffles_a_dataset_read_from_disk(db):
    from torch.utils.data import RandomSampler

    from skimb.samplers import BatchBalancedSampler, BlockShuffleSampler

    path, X, y = db
    ds = SQLiteDataset(path)
    clf = quiet(max_epochs=1).fit(ds, None)
    assert isinstance(clf.sampler_, BlockShuffleSampler)
    assert clf.sampler_.n_rows == round(0.8 * len(y))  # the training rows only
    assert quiet(max_epochs=1).fit(X, y).sampler_ is None  # in memory: plain shuffle
    plain = quiet(max_epochs=1, sampler=RandomSampler).fit(ds, None)
    assert isinstance(plain.sampler_, RandomSampler)
    balanced = quiet(max_epochs=1, sampler="batch_balanced").fit(ds, None)
    assert isinstance(balanced.sampler_, BatchBalancedSampler)
    assert balanced.sampler_.block_size == 256
    own = quiet(max_epochs=1, sampler="batch_balanced", sampler__block_size=None)
    assert own.fit(ds, None).sampler_.block_size is None


def test_a_dataset_can_declare_it_reads_in_blocks(imbalanced):
    import torch
    from torch.utils.data import Dataset

    from skimb.samplers import BlockShuffleSampler

    X, y = imbalanced

    class OnDisk(Dataset):
        reads_in_blocks = True

        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return torch.as_tensor(X[i], dtype=torch.float32), y[i]

    clf = quiet(max_epochs=1).fit(OnDisk(), y)
    assert isinstance(clf.sampler_, BlockShuffleSampler)


def test_the_training_blocks_are_blocks_of_the_table(db):
    # The validation split leaves gaps in the training rows; the sampler's blocks
    # are cut over the rows' places in the table, so each block is read once an
    # epoch even when the cache holds only the window's blocks.
    path, X, y = db
    clf = quiet(max_epochs=1).fit(SQLiteDataset(path), None)
    stored = clf.sampler_.storage_positions
    assert isinstance(clf.sampler_, BlockShuffleSampler)
    assert len(stored) == clf.sampler_.n_rows < len(y)
    assert np.all(np.diff(stored) > 0) and stored[-1] < len(y)
    assert stored[-1] >= clf.sampler_.n_rows  # table positions, not split positions

    def block_reads(**params):
        clf = quiet(max_epochs=1, scaling=None, sampler__window=1, **params)
        two_blocks = 2.5 * BLOCK_ROWS * X.shape[1] * 4 / 2**20
        reads, original = [], SQLiteDataset.read_block
        try:
            SQLiteDataset.read_block = lambda ds, b: reads.append(b) or original(ds, b)
            clf.fit(SQLiteDataset(path, cache_mib=two_blocks), None)
        finally:
            SQLiteDataset.read_block = original
        return sorted(reads)

    n_blocks = -(-len(y) // BLOCK_ROWS)
    reads = block_reads()
    # one training epoch reads each block once; the validation pass (the first 20%
    # of the rows, as skorch's unshuffled stratified split takes them) rereads the
    # one it shares with training
    assert set(reads) == set(range(n_blocks)) and len(reads) <= n_blocks + 1
    # blocks of the split's own positions straddle the table's: more reads
    assert len(block_reads(sampler__storage_positions=None)) > len(reads)


def test_epochs_open_with_the_blocks_left_in_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64 * BLOCK_ROWS, 4)).astype(np.float32)
    y = (rng.random(len(X)) < 0.05).astype(int)
    path = tmp_path / "blocks.db"
    write_sqlite(path, X, y)
    forty_blocks = 40 * BLOCK_ROWS * X.shape[1] * 4 / 2**20

    def reads_per_epoch(**params):
        epoch, reads, original = [0], [], SQLiteDataset.read_block
        recorder = RecordBatches()
        recorder.on_epoch_begin = lambda net, **kw: epoch.__setitem__(
            0, len(net.history)
        )
        try:
            SQLiteDataset.read_block = lambda ds, b: (
                reads.append(epoch[0]) or original(ds, b)
            )
            clf = quiet(max_epochs=4, sampler__window=4, callbacks=[recorder], **params)
            clf.fit(SQLiteDataset(path, cache_mib=forty_blocks), None)
        finally:
            SQLiteDataset.read_block = original
        stored_at = np.asarray(clf.sampler_.storage_positions)  # RowRuns: the split's
        train_blocks = np.unique(stored_at // BLOCK_ROWS).size
        return np.bincount(reads, minlength=5)[2:], clf.sampler_, train_blocks

    reads, sampler, train_blocks = reads_per_epoch()
    assert sampler.reuse_blocks == 40 - 4  # the cache, less one window
    # Epochs after the first read only the blocks not left in the cache (the
    # validation pass, held in memory, did not push them out).
    assert np.all(reads <= train_blocks - sampler.reuse_blocks + 4)
    independent, _, _ = reads_per_epoch(sampler__reuse_blocks=0)
    assert np.all(reads < independent)


@pytest.mark.parametrize("read_rows", [3, 4096])
def test_held_rows_are_read_once(db, read_rows, monkeypatch):
    from skimb.data.sqlite import dataset as sqlite_dataset

    monkeypatch.setattr(sqlite_dataset, "KEY_READ_ROWS", read_rows)  # in parts
    path, X, y = db
    ds = SQLiteDataset(path, cache_mib=0)  # no block cache to serve them either
    view = ds[np.arange(len(y))[::-1]]  # a view: rows are its own positions
    held = np.flatnonzero(view.labels == 1)
    view.hold_rows(held)
    table_positions = len(y) - 1 - held
    marked = np.zeros(len(y), dtype=bool)
    marked[table_positions] = True
    np.testing.assert_array_equal(view.held_rows.holds(np.arange(len(y))), marked)
    with sqlite3.connect(path) as conn:  # reading them from the file would fail now
        conn.execute("DELETE FROM data WHERE label = 1")
    shuffled = np.random.default_rng(0).permutation(held)
    np.testing.assert_array_equal(
        view.__getitems__(shuffled)[0].numpy(), X[::-1][shuffled]
    )
    view.hold_rows(None)
    with pytest.raises(RuntimeError, match="changed while it was read"):
        view.__getitems__(shuffled[:3])


def test_a_fit_on_disk_reads_validation_rows_once_and_holds_the_positives(db):
    path, X, y = db
    ds = SQLiteDataset(path, cache_mib=0)  # no block cache: every read is by key
    asked = []
    original = TableReader.read_features
    try:
        TableReader.read_features = lambda d, ids: asked.append(ids) or original(d, ids)
        clf = quiet(max_epochs=4).fit(ds, None)
    finally:
        TableReader.read_features = original
    assert len(clf.history) == 4
    train = clf.sampler_.storage_positions
    # the training positives, held: read once, when the fit began
    np.testing.assert_array_equal(
        ds.held_rows.positions, train[clf.sampler_.pos_indices]
    )
    valid = np.setdiff1d(np.arange(len(y)), train)
    reads_per_row = np.bincount(np.concatenate(asked) - 1, minlength=len(y))
    # 4 validation passes and the threshold pass, one read each row
    assert np.all(reads_per_row[valid] == 1)
    assert np.all(reads_per_row[train[clf.sampler_.pos_indices]] == 1)
    negatives = np.setdiff1d(train, train[clf.sampler_.pos_indices])
    assert np.all(reads_per_row[negatives] == 4 + 1)  # 4 epochs and scaling


def test_training_positives_past_the_cap_are_held_up_to_it(db, monkeypatch):
    from skimb.data import rows

    path, X, y = db
    row_bytes = X.shape[1] * 4
    n_train_pos = int(0.8 * np.count_nonzero(y))  # the 80/20 stratified split
    fit_in = n_train_pos // 3
    monkeypatch.setattr(rows, "HELD_RARE_MIB", fit_in * row_bytes / 2**20)
    ds = SQLiteDataset(path, cache_mib=0)
    asked = []
    original = TableReader.read_features
    monkeypatch.setattr(
        TableReader,
        "read_features",
        lambda d, ids: asked.append(ids) or original(d, ids),
    )
    clf = quiet(max_epochs=3).fit(ds, None)
    train = clf.sampler_.storage_positions
    positives = train[clf.sampler_.pos_indices]
    # the first positives that fit in the cap, no more
    np.testing.assert_array_equal(ds.held_rows.positions, positives[:fit_in])
    reads_per_row = np.bincount(np.concatenate(asked) - 1, minlength=len(y))
    assert np.all(reads_per_row[positives[:fit_in]] == 1)  # once, when held
    assert np.all(reads_per_row[positives[fit_in:]] == 3 + 1)  # epochs and scaling
    monkeypatch.setattr(rows, "HELD_RARE_MIB", 0)  # no room: nothing held
    quiet(max_epochs=1).fit(ds, None)
    assert ds.held_rows is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=60), st.data())
def test_runs_and_ranges_match_their_numpy_formulas(values, data):
    from skimb.data.index import concatenated_ranges, runs_of

    keys = np.sort(np.array(values, dtype=np.int64))
    expected = np.unique(keys, return_index=True, return_counts=True)
    for got, want in zip(runs_of(keys), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    n = data.draw(st.integers(0, 12))
    firsts = np.array(data.draw(st.lists(st.integers(0, 99), min_size=n, max_size=n)))
    lengths = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    want = [np.arange(f, f + k) for f, k in zip(firsts, lengths, strict=True)]
    np.testing.assert_array_equal(
        concatenated_ranges(firsts, lengths),
        np.concatenate(want).astype(np.int64) if want else np.zeros(0, np.int64),
    )


def test_new_files_get_large_pages_and_old_ones_keep_theirs(tmp_path, imbalanced):
    from skimb.data.sqlite import PAGE_BYTES

    X, y = imbalanced
    write_sqlite(tmp_path / "new.db", X, y)
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_BYTES == 16384
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE other (x)")
    write_sqlite(tmp_path / "old.db", X, y)
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    np.testing.assert_array_equal(SQLiteDataset(tmp_path / "old.db").labels, y)


def test_a_validation_split_too_large_to_hold_passes_through_the_cache(db, monkeypatch):
    from skimb.data import read_once

    path, X, y = db
    monkeypatch.setattr(read_once, "HELD_MIB", 0)  # every split is "too large"
    ds = SQLiteDataset(path)
    clf = quiet(max_epochs=2).fit(ds, None)
    train_blocks = set((clf.sampler_.storage_positions // BLOCK_ROWS).tolist())
    valid_only = set(range(-(-len(y) // BLOCK_ROWS))) - train_blocks
    assert valid_only  # skorch's unshuffled split: the first rows of each class
    # The validation pass ends every epoch: kept, its blocks would still be cached.
    cached = set(np.flatnonzero(ds.block_cache.slot_of >= 0).tolist())
    assert cached and not cached & valid_only
    held = quiet(max_epochs=2).fit(SQLiteDataset(path), None)
    np.testing.assert_allclose(clf.predict_proba(X), held.predict_proba(X), rtol=1e-5)
