"""ParquetDataset: the SQLiteDataset contract over Parquet files written by pyarrow."""

import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from skorch.callbacks import Callback
from torch.utils.data import RandomSampler

from skimb import ParquetDataset, SQLiteDataset
from skimb.data import write_sqlite
from skimb.data.parquet import UNIT_ROWS

from .conftest import quiet

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def write(path, X, y, **options):
    columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table({**columns, "label": y}), path, **options)
    return str(path)


@pytest.fixture
def data(rare):
    X, y = rare
    return X, y


@pytest.fixture
def folder(tmp_path, data):
    """The rows over three files with row groups of uneven size."""
    X, y = data
    root = tmp_path / "export"
    root.mkdir()
    cuts = [0, 1500, 2600, len(y)]
    sizes = [700, 1000, 333]
    for k, (first, last) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        write(root / f"part-{k}.parquet", X[first:last], y[first:last],
              row_group_size=sizes[k])  # fmt: skip
    (root / "_SUCCESS").write_bytes(b"")  # as Spark leaves it: not data
    return str(root)


def test_contract_over_a_folder_of_files(folder, data):
    X, y = data
    ds = ParquetDataset(folder)
    assert len(ds) == len(y) and ds.shape == X.shape
    np.testing.assert_array_equal(ds.labels, y)
    assert ds.labels.dtype == np.int8
    assert len(ds.files) == 3
    x, label = ds[2000]
    np.testing.assert_array_equal(x, X[2000])
    assert label == y[2000]
    rows = np.random.default_rng(0).permutation(len(y))[:500]
    Xb, yb = ds.__getitems__(rows)
    np.testing.assert_array_equal(Xb.numpy(), X[rows])
    np.testing.assert_array_equal(yb.numpy(), y[rows])
    mask = y == 1
    view = ds[mask]
    assert len(view) == mask.sum() and np.all(view.labels == 1)
    np.testing.assert_array_equal(ds[rows, ...][10:20].__getitems__(slice(0, 5))[0],
                                  X[rows[10:15]])  # fmt: skip
    with pytest.raises(IndexError):
        ds[np.array([len(y)])]


def test_views_labels_and_splits_read_no_features(folder, data):
    X, y = data
    ds = ParquetDataset(folder)
    labels = ds.labels
    for train, test in StratifiedKFold(3).split(np.zeros(len(y)), labels):
        a, b = ds[train], ds[test]
        assert len(a) + len(b) == len(y)
        np.testing.assert_array_equal(a.labels, y[train])
        pickle.loads(pickle.dumps(a))
    assert ds.reader.units_read == 0  # a real counter of decoded read units
    ds[:10].__getitems__(np.arange(10))
    assert ds.reader.units_read == 1


def test_a_large_row_group_is_read_in_slices_in_any_order(tmp_path):
    n = UNIT_ROWS + 5000
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    y = (np.arange(n) % 50 == 0).astype(np.int64)
    ds = ParquetDataset(write(tmp_path / "one.parquet", X, y, row_group_size=n))
    assert [u.part for u in ds.reader.layout.units] == [0, 1]
    rows = np.array([n - 1, 3, UNIT_ROWS, UNIT_ROWS - 1, 0])
    np.testing.assert_array_equal(ds.__getitems__(rows)[0].numpy(), X[rows])
    np.testing.assert_array_equal(ds[rows[::-1]].__getitems__(slice(None))[0],
                                  X[rows[::-1]])  # fmt: skip


def test_pickles_by_path_and_reads_in_the_new_process(folder, data):
    X, y = data
    view = ParquetDataset(folder)[np.arange(100, 300)]
    view.__getitems__(np.arange(5))  # handles and a cache, left behind
    copy = pickle.loads(pickle.dumps(view))
    assert copy.block_cache is None
    np.testing.assert_array_equal(copy.__getitems__(slice(None))[0], X[100:300])


def test_default_fit_matches_memory_and_sqlite(folder, data, tmp_path):
    X, y = data
    ds = ParquetDataset(folder)
    clf = quiet().fit(ds, None)
    assert type(clf.sampler_).__name__ == "BlockShuffleSampler"
    proba = clf.predict_proba(ds)[:, 1]  # streamed
    np.testing.assert_allclose(proba, clf.predict_proba(X)[:, 1], atol=1e-6)
    memory = quiet().fit(X, y).predict_proba(X)[:, 1]
    write_sqlite(tmp_path / "same.db", X, y)
    sqlite = quiet().fit(SQLiteDataset(tmp_path / "same.db"), None)
    sqlite = sqlite.predict_proba(X)[:, 1]
    # a block-shuffled order is another shuffle: the same model up to the noise of
    # the batch order
    for other in (memory, sqlite):
        assert abs(np.mean(proba) - np.mean(other)) < 0.02
        assert np.corrcoef(proba, other)[0, 1] > 0.95
        assert average_precision_score(y, proba) == pytest.approx(
            average_precision_score(y, other), abs=0.05
        )


def test_the_same_batches_train_exactly_as_in_memory(folder, data):
    # a plain shuffle from the same seed: the same batches, so the same network
    X, y = data
    on_disk = quiet(sampler=RandomSampler).fit(ParquetDataset(folder), None)
    memory = quiet(sampler=RandomSampler).fit(X, y)
    np.testing.assert_allclose(
        on_disk.predict_proba(X), memory.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_block_shuffle_decodes_each_unit_about_once_an_epoch(tmp_path):
    rng = np.random.default_rng(0)
    n = 3 * UNIT_ROWS
    X = rng.standard_normal((n, 2)).astype(np.float32)
    y = (X[:, 0] > 2.3).astype(np.int64)
    path = write(tmp_path / "u.parquet", X, y, row_group_size=UNIT_ROWS)
    ds = ParquetDataset(path, cache_mib=2 * UNIT_ROWS * 2 * 4 / 2**20)  # two units
    clf = quiet(max_epochs=3, early_stopping=False, train_split=None,
                batch_size=4096)  # fmt: skip
    clf.fit(ds, None)
    assert clf.sampler_._blocks.units.lanes == 1
    # 3 units: the positives held (one pass), the scaling pass, 3 epochs, the
    # threshold pass: each about once, where a block order blind to the units
    # would decode them once or more per batch (48 batches an epoch).
    assert ds.reader.units_read <= 3 * (1 + 1 + 3 + 1) + 3


def test_a_table_with_categories_and_nulls(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    city = rng.choice(["paris", "lyon", "nice", None], n, p=[0.5, 0.3, 0.15, 0.05])
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.1] = np.nan
    y = ((city == "nice") & (rng.random(n) < 0.5)).astype(np.int64)
    frame = pd.DataFrame({"city": pd.Categorical(city), "amount": amount})
    table = pa.Table.from_pandas(frame.assign(label=y), preserve_index=False)
    assert pa.types.is_dictionary(table.schema.field("city").type)
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=700)
    ds = ParquetDataset(path)
    assert ds.categorical_columns == ["city"] and ds.is_table
    frame_back = ds.read_frame([5, 1, 2999])
    assert frame_back["city"].tolist()[1] == frame["city"].tolist()[1]
    counts = ds.category_counts()[0]
    assert counts.to_dict() == frame["city"].value_counts().to_dict()
    clf = quiet(max_epochs=3).fit(ds, None)
    encoder = clf.table_encoder_
    assert encoder.categorical_columns_ == ["city"]
    proba = clf.predict_proba(ds)[:, 1]
    np.testing.assert_allclose(proba, clf.predict_proba(frame)[:, 1], atol=1e-5)
    memory = quiet(max_epochs=3).fit(frame, y).predict_proba(frame)[:, 1]
    assert average_precision_score(y, proba) == pytest.approx(
        average_precision_score(y, memory), abs=0.05
    )


def test_numeric_columns_without_nulls_train_as_an_array(folder):
    assert not ParquetDataset(folder).is_table


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} | {
        "names": sorted(os.listdir(root))
    }


def test_broken_files_raise_naming_the_path_and_modify_nothing(tmp_path, data):
    X, y = data
    good = write(tmp_path / "good.parquet", X[:100], y[:100])
    (tmp_path / "notes.parquet").write_text("not parquet at all")
    data_bytes = open(good, "rb").read()
    (tmp_path / "cut.parquet").write_bytes(data_bytes[: len(data_bytes) // 2])
    (tmp_path / "empty").mkdir()
    before = _snapshot(tmp_path)
    cases = [
        (tmp_path / "missing.parquet", {}, FileNotFoundError, "no Parquet file"),
        (tmp_path / "empty", {}, FileNotFoundError, "no Parquet files"),
        (tmp_path / "notes.parquet", {}, ValueError, "cannot be read as a Parquet"),
        (tmp_path / "cut.parquet", {}, ValueError, "cannot be read as a Parquet"),
        (good, {"label": "target"}, ValueError, "no label column 'target'"),
        (good, {"features": ["f0", "nope"]}, ValueError, "['nope'] not in"),
    ]
    for path, options, error, says in cases:
        with pytest.raises(error) as info:
            ParquetDataset(path, **options)
        message = str(info.value)
        assert says in message and os.path.basename(str(path)) in message
        if "cannot be read" in says:
            assert "ParquetDataset expects a Parquet file" in message  # what is valid
        if path == good:
            assert "'f0'" in message  # names the columns there are
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "missing.parquet").exists()


def test_cross_val_score_and_grid_search(folder, data):
    X, y = data
    ds = ParquetDataset(folder)
    scores = cross_val_score(
        quiet(max_epochs=2), ds, ds.labels, cv=2, scoring="average_precision"
    )
    assert scores.shape == (2,) and np.all(scores > 0.2)
    search = GridSearchCV(quiet(max_epochs=2), {"lr": [0.01, 0.03]}, cv=2,
                          scoring="average_precision").fit(ds, ds.labels)  # fmt: skip
    assert search.best_params_["lr"] in (0.01, 0.03)


def test_bagging_and_samplers(folder, data):
    X, y = data
    ds = ParquetDataset(folder)
    bag = quiet(bagging=2, max_epochs=2).fit(ds, None)
    assert bag.predict_proba(ds).shape == (len(y), 2)
    for sampler in ("undersample", "batch_balanced", "weighted"):
        clf = quiet(sampler=sampler, max_epochs=1).fit(ds, None)
        assert np.isfinite(clf.predict_proba(ds[:50])).all()


def test_a_pass_the_cache_does_not_keep_decodes_each_unit_once(tmp_path):
    """A validation split too large to hold is read through passing_through each
    epoch: batch after batch in row order, each unit decoded once, not once per
    batch (what made a 4-million-row fit 5x slower than in memory)."""
    rng = np.random.default_rng(0)
    n = 3 * UNIT_ROWS
    X = rng.standard_normal((n, 2)).astype(np.float32)
    path = write(tmp_path / "p.parquet", X, np.zeros(n, np.int64),
                 row_group_size=UNIT_ROWS)  # fmt: skip
    ds = ParquetDataset(path)
    with ds.passing_through():
        for first in range(0, n, 4096):  # 48 batches
            rows = np.arange(first, min(first + 4096, n))
            np.testing.assert_array_equal(ds.__getitems__(rows)[0].numpy(), X[rows])
    assert ds.reader.units_read == 3


def test_positives_and_the_scaling_sample_are_read_in_one_pass(tmp_path):
    """Both touch every unit (the positives are spread over the file, the
    scaling sample is blocks drawn from all of it): read together, the units are
    decoded once before the first epoch, not twice; afterwards only the
    positives stay held."""
    rng = np.random.default_rng(0)
    n = 3 * UNIT_ROWS  # past the scaling sample's 131,072 rows
    X = rng.standard_normal((n, 2)).astype(np.float32)
    y = (X[:, 0] > 2.3).astype(np.int64)
    path = write(tmp_path / "u.parquet", X, y, row_group_size=UNIT_ROWS)
    ds = ParquetDataset(path)
    before_training = []

    class CountReads(Callback):
        def on_epoch_begin(self, net, **kwargs):
            before_training.append(ds.reader.units_read)

    clf = quiet(max_epochs=1, early_stopping=False, train_split=None,
                batch_size=4096, callbacks=[CountReads()])  # fmt: skip
    clf.fit(ds, None)
    assert before_training == [3]  # 3 units, once; a pass for each made 6
    held = ds.held_rows
    np.testing.assert_array_equal(held.positions, np.flatnonzero(y))
    np.testing.assert_array_equal(held.features, X[y == 1])
    # the scaler saw the rows it sees from SQLite, which reads them in a pass of
    # their own (the same sample: the same positions, seed and order of draws)
    write_sqlite(tmp_path / "u.db", X, y)
    sqlite = quiet(max_epochs=1, early_stopping=False, train_split=None,
                   batch_size=4096)  # fmt: skip
    sqlite.fit(SQLiteDataset(tmp_path / "u.db"), None)
    np.testing.assert_allclose(clf.scaler_.center_, sqlite.scaler_.center_, rtol=1e-6)
    np.testing.assert_allclose(clf.scaler_.scale_, sqlite.scaler_.scale_, rtol=1e-6)


def test_the_pass_before_training_decodes_on_pyarrows_threads(tmp_path, monkeypatch):
    """Before the first epoch nothing else runs, so the units of the pass over
    the positives and the scaling sample are decoded on pyarrow's pool; during
    training on the calling thread, where pyarrow's threads would compete with
    torch's."""
    rng = np.random.default_rng(0)
    n = 3 * UNIT_ROWS
    X = rng.standard_normal((n, 2)).astype(np.float32)
    y = (X[:, 0] > 2.3).astype(np.int64)
    ds = ParquetDataset(write(tmp_path / "t.parquet", X, y, row_group_size=UNIT_ROWS))
    threads, read_row_groups = [], pq.ParquetFile.read_row_groups

    def recorded(self, *args, use_threads=True, **options):  # the real read
        threads.append(use_threads)
        return read_row_groups(self, *args, use_threads=use_threads, **options)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", recorded)
    before_training = []

    class CountReads(Callback):
        def on_epoch_begin(self, net, **kwargs):
            before_training.append(len(threads))

    clf = quiet(max_epochs=2, early_stopping=False, train_split=None,
                batch_size=4096, callbacks=[CountReads()])  # fmt: skip
    clf.fit(ds, None)
    first = before_training[0]
    assert threads[:first] == [True] * 3
    assert len(threads) > first and not any(threads[first:])


def test_slices_of_a_row_group_read_whole_decode_it_once(tmp_path):
    """A row group a little larger than a read unit (100,000 rows, as a writer
    given 100,000 rows at a time leaves them) is read whole once for both its
    slices, which the block-shuffled order asks for together."""
    n = 100_000
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    ds = ParquetDataset(write(tmp_path / "g.parquet", X, np.zeros(n, np.int64)))
    units = ds.reader.layout.units
    assert [(u.part, u.last) for u in units] == [(0, False), (1, True)]
    columns = ds.reader.layout.columns
    second = ds.reader.read_table(1, columns)
    first = ds.reader.read_table(0, columns)
    assert second.num_rows == n - UNIT_ROWS and first.num_rows == UNIT_ROWS
    np.testing.assert_array_equal(first.column("f0").to_numpy(), X[:UNIT_ROWS, 0])
    np.testing.assert_array_equal(second.column("f1").to_numpy(), X[UNIT_ROWS:, 1])
    assert ds.reader.local.group[0][1] == 0  # one row group decoded, kept


def test_rows_held_for_now_are_let_go_and_the_rest_kept(folder, data):
    X, y = data
    order = np.random.default_rng(1).permutation(len(y))
    view = ParquetDataset(folder)[order]  # positions out of storage order
    keep, for_now = np.arange(0, 300, 3), np.arange(100, 900)
    view.hold_rows(keep, for_now=for_now)
    assert len(view.held_rows.positions) == len(np.union1d(keep, for_now))
    view.let_go_for_now()
    held = view.held_rows
    stored_at = view.reader.layout.positions(np.sort(order[keep]))
    np.testing.assert_array_equal(held.positions, stored_at)
    np.testing.assert_array_equal(held.features, X[np.sort(order[keep])])
    rows = np.arange(0, 1200, 7)
    np.testing.assert_array_equal(view.__getitems__(rows)[0].numpy(), X[order[rows]])


def test_a_unit_is_decoded_straight_into_its_cache_slot(tmp_path, monkeypatch):
    """The block cache hands its slot to the reader, which writes the unit's rows
    there (one copy from Arrow's columns, no array between), with float64 and
    integer columns converted and a short last unit filling the slot's start."""
    from skimb.data.parquet.reader import ParquetReader

    rng = np.random.default_rng(0)
    n = UNIT_ROWS + 1000
    X = rng.standard_normal((n, 3))
    table = pa.table({"a": X[:, 0].astype(np.float32), "b": X[:, 1],
                      "c": np.arange(n), "label": np.zeros(n, np.int64)})  # fmt: skip
    pq.write_table(table, tmp_path / "u.parquet", row_group_size=UNIT_ROWS)
    ds = ParquetDataset(tmp_path / "u.parquet")
    targets, read_features = [], ParquetReader.read_features

    def recorded(self, unit, threads=False, into=None, offsets=None):
        targets.append(into)
        return read_features(self, unit, threads, into, offsets)

    monkeypatch.setattr(ParquetReader, "read_features", recorded)
    rows = np.arange(n)[::-1]  # both units, in any order
    X_read, _ = ds.__getitems__(rows)
    expected = np.stack([X[:, 0].astype(np.float32), X[:, 1].astype(np.float32),
                         np.arange(n, dtype=np.float32)], axis=1)  # fmt: skip
    np.testing.assert_array_equal(X_read.numpy(), expected[rows])
    cache = ds.block_cache
    assert len(targets) == 2 and all(t is not None for t in targets)
    written = {
        slot
        for into in targets
        for slot in range(cache.capacity)
        if np.shares_memory(into, cache.slab[slot])
    }
    assert written == {cache.slot_of[0], cache.slot_of[1]} and len(written) == 2
    slot = cache.slot_of[1]
    np.testing.assert_array_equal(cache.slab[slot, :1000], expected[UNIT_ROWS:])


def test_a_failed_read_into_a_slot_leaves_it_empty(tmp_path):
    """A read that fails after writing part of a slot leaves neither the block it
    was read for nor the one it pushed out marked as cached."""
    from skimb.data.block_cache import BlockCache

    cache = BlockCache(4, 1, 2, block_rows=8, dense_rows=1, reads_into_slots=True)

    def read_block(block, into):
        into[:] = block
        if block == 2:
            raise OSError("the disk went away")

    X = np.empty((3, 2), np.float32)
    assert len(cache.fill(np.array([1, 2, 3]), X, read_block)) == 0
    np.testing.assert_array_equal(X, 0.0)
    with pytest.raises(OSError, match="disk"):
        cache.fill(np.array([16, 17]), X[:2], read_block)
    assert np.all(cache.slot_of == -1) and np.all(cache.block_in == -1)
    assert len(cache.fill(np.array([9]), X[:1], read_block)) == 0
    np.testing.assert_array_equal(X[0], 1.0)


def test_the_pass_before_training_reads_rows_asked_out_of_file_order(folder, data):
    """Rows of a view asked in another order than the files hold them (a
    shuffled view, rows swapped within a run) come back in the order asked."""
    X, _ = data
    perm = np.random.default_rng(3).permutation(len(X))
    view = ParquetDataset(folder)[perm]
    asked = np.array([0, 2, 1, 3, 10, 12, 11, 13])
    view_file_rows = perm[asked]
    features, _ = view._fetch(asked, by_key=True)
    np.testing.assert_array_equal(features, X[view_file_rows].astype(np.float32))
    swapped = ParquetDataset(folder)
    rows = np.array([5, 7, 6, 8])  # X's rows 1 and 2 swapped in file order
    np.testing.assert_array_equal(swapped._fetch(rows, by_key=True)[0], X[rows])
