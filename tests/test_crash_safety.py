"""A killed write_sqlite never leaves an unreadable file or a half-replaced table.

Real processes killed with SIGKILL at random moments (fixed seeds): each writer is a
fork of the test process (cheap: no new interpreter, no torch import), writing
chunks of rows whose features all equal the chunk's "generation" value.
"""

import hashlib
import multiprocessing
import os
import signal
import sqlite3

import numpy as np
import pytest

from skimb.data import SQLiteDataset, recover_sqlite, write_sqlite
from skimb.data.sqlite import WRITING_PREFIX

ROWS, FEATURES, CHUNKS = 500, 8, 400
pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


def _chunks(value, n_chunks, started=None):
    for i in range(n_chunks):
        y = np.zeros(ROWS, dtype=np.int64)
        y[i % ROWS] = 1
        yield np.full((ROWS, FEATURES), value, dtype=np.float32), y
        if i == 1 and started is not None:
            started.set()  # the first chunk is committed


def _write(path, value, mode, started):
    write_sqlite(path, _chunks(value, CHUNKS, started), if_exists=mode)
    os._exit(0)


def _killed_write(path, value, mode, delay):
    """Start a writer process, kill it ``delay`` seconds after its first commit."""
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    writer = ctx.Process(target=_write, args=(str(path), value, mode, started))
    writer.start()
    assert started.wait(30), "the writer never committed a chunk"
    writer.join(delay)
    if writer.is_alive():
        os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    return writer.exitcode == 0  # finished before the kill


def _generations(path):
    """Row count and the set of feature values in the table, through SQLiteDataset."""
    ds = SQLiteDataset(path)
    X = ds.__getitems__(np.arange(len(ds)))[0].numpy()
    return len(ds), set(np.unique(X).tolist())


def _tables(path):
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["replace", "append", "fresh"])
def test_killed_writer_leaves_a_readable_file_of_whole_chunks(tmp_path, mode):
    rng = np.random.default_rng({"replace": 0, "append": 1, "fresh": 2}[mode])
    path = tmp_path / "data.db"
    old_rows = 3 * ROWS
    outcomes = []
    for trial in range(8):
        if path.exists():
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(str(path) + suffix):
                    os.remove(str(path) + suffix)
        if mode != "fresh":
            write_sqlite(path, _chunks(-1.0, 3), if_exists="fail")
        value = float(trial)
        finished = _killed_write(
            path, value, "fail" if mode == "fresh" else mode, rng.uniform(0, 0.25)
        )
        n_rows, values = _generations(path)  # opens read-only: must not raise
        assert n_rows % ROWS == 0, "a chunk was cut"
        if mode == "replace":
            # the old table, or the complete new one: never a mix, never partial
            assert (n_rows, values) in [
                (old_rows, {-1.0}),
                (CHUNKS * ROWS, {value}),
            ]
            outcomes.append("new" if values == {value} else "old")
        elif mode == "append":
            assert values <= {-1.0, value} and n_rows >= old_rows
            outcomes.append(n_rows - old_rows)
        else:
            assert values <= {value} and n_rows >= ROWS
            outcomes.append(n_rows)
        with pytest.raises(ValueError, match="no table"):
            SQLiteDataset(path, table=WRITING_PREFIX + "data")  # hidden
        # a later write succeeds and clears what the crash left
        write_sqlite(path, _chunks(99.0, 1), if_exists="append")
        assert not any(t.startswith(WRITING_PREFIX) for t in _tables(path))
        assert _generations(path)[0] == n_rows + ROWS
        assert finished or mode != "replace" or outcomes[-1] == "old"
    # the kills landed in the middle of the writes
    if mode == "replace":
        assert "old" in outcomes
    else:
        assert min(outcomes) < CHUNKS * ROWS


def test_a_hot_rollback_journal_gives_a_clear_error_and_recovers(tmp_path):
    """A writer in rollback-journal mode (another program, or an older skimb) killed
    mid-transaction: SQLiteDataset names the file and the fix, and writes nothing."""
    path = str(tmp_path / "hot.db")
    write_sqlite(path, _chunks(1.0, 2))
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()

    def big_transaction():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM data")
        conn.execute("PRAGMA cache_size=10")  # spill pages: the file is modified
        blob = np.zeros(FEATURES, np.float32).tobytes()
        conn.executemany(
            "INSERT INTO data (features, label) VALUES (?, 0)",
            ((blob,) for _ in range(50_000)),
        )
        started.set()
        signal.pause()

    writer = ctx.Process(target=big_transaction)
    writer.start()
    assert started.wait(30)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    assert os.path.getsize(path + "-journal") > 0
    before = _snapshot(tmp_path)
    with pytest.raises(RuntimeError, match=r"hot.db.*interrupted.*recover_sqlite"):
        SQLiteDataset(path)
    assert _snapshot(tmp_path) == before  # nothing written, nothing created
    recover_sqlite(path)
    assert _generations(path) == (2 * ROWS, {1.0})


def test_reading_never_writes_to_the_file(tmp_path):
    path = str(tmp_path / "clean.db")
    write_sqlite(path, _chunks(2.0, 4))
    assert sorted(os.listdir(tmp_path)) == ["clean.db"]  # back in rollback mode
    before = _snapshot(tmp_path)
    ds = SQLiteDataset(path)
    ds.__getitems__(np.arange(len(ds)))
    assert len(ds[np.arange(0, len(ds), 7)].labels) == len(range(0, len(ds), 7))
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "content, match",
    [
        (b"this is a CSV file, not a database\n" * 200, "not a database"),
        (b"", "no table 'data'"),
    ],
)
def test_files_that_are_not_databases_name_the_path(tmp_path, content, match):
    path = tmp_path / "broken.db"
    path.write_bytes(content)
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=match) as info:
        SQLiteDataset(path)
    assert "broken.db" in str(info.value)
    assert _snapshot(tmp_path) == before


def test_truncated_database_names_the_path(tmp_path):
    path = tmp_path / "cut.db"
    write_sqlite(path, _chunks(1.0, 20))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    before = _snapshot(tmp_path)
    with pytest.raises((ValueError, RuntimeError), match="cut.db"):
        ds = SQLiteDataset(path)
        ds.__getitems__(np.arange(len(ds)))
    assert _snapshot(tmp_path) == before


def _snapshot(folder):
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in sorted(os.listdir(folder))
    }


def _table_with_labels(path, labels):
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE data (id INTEGER PRIMARY KEY, features BLOB, label INTEGER)"
    )
    blob = np.ones(3, np.float32).tobytes()
    conn.executemany(
        "INSERT INTO data (features, label) VALUES (?, ?)", [(blob, v) for v in labels]
    )
    conn.commit()
    conn.close()


def test_null_labels_name_the_file_table_and_rows(tmp_path):
    path = str(tmp_path / "nulls.db")
    _table_with_labels(path, [0, None, 1, None])
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"'label'.*'data'.*nulls.db.*NULL in 2 rows"):
        _ = SQLiteDataset(path).labels
    assert _snapshot(tmp_path) == before


def test_a_third_label_names_the_dataset(tmp_path):
    from tests.conftest import quiet

    path = str(tmp_path / "three.db")
    _table_with_labels(path, [0, 1, 2, 0, 1, 0])
    with pytest.raises(ValueError, match=r"3 classes.*three.db"):
        quiet().fit(SQLiteDataset(path), None)


def test_a_table_with_zero_rows_names_the_file(tmp_path):
    path = str(tmp_path / "empty.db")
    _table_with_labels(path, [])
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"'data' in .*empty.db.* has no rows"):
        SQLiteDataset(path)
    assert _snapshot(tmp_path) == before
