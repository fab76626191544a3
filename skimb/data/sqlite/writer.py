"""The writer of the tables :class:`~skimb.data.SQLiteDataset` reads, and the
recovery of a file whose write was interrupted."""

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote as url_quote

import numpy as np

from . import frames
from .schema import WRITING_PREFIX, quote

#: Page size of the files ``write_sqlite`` creates (SQLite's default is 4096).
PAGE_BYTES = 16384


def write_sqlite(path, X, y=None, table="data", if_exists="fail"):
    """Write features and labels into a SQLite table that :class:`SQLiteDataset` reads.

    The table has an ``id INTEGER PRIMARY KEY``, a ``features`` BLOB of float32 values
    and an integer ``label``. A DataFrame ``X`` (or chunks of DataFrames) is written
    column by column instead: integers as INTEGER, other numbers as REAL, categories,
    strings and booleans as TEXT, missing values as NULL; :class:`SQLiteDataset`
    reads its TEXT columns as categories. Each chunk is written in one transaction,
    so data that never fits in memory can be streamed in.

    What a crash (a killed process, a full disk, Ctrl-C) leaves behind:

    * ``if_exists="replace"``: the old table, untouched, or the complete new one.
      The new rows go into a table named ``_skimb_writing_<table>``, which replaces
      the old table in one transaction at the end; a crash leaves that partial
      table behind, hidden from :class:`SQLiteDataset` and dropped by the next
      ``write_sqlite`` on the file.
    * a fresh table and ``if_exists="append"``: every chunk committed before the
      crash, whole; never part of a chunk.

    A file it creates has 16 KiB pages (``PAGE_BYTES``; SQLite's default is 4
    KiB), which makes the block reads of :class:`SQLiteDataset` about a fifth
    faster; an existing file keeps its own.

    The file is written in SQLite's write-ahead-log mode and returned to its usual
    rollback-journal mode at the end. A writer killed in the middle leaves a
    ``-wal`` file whose committed chunks read-only readers see; unlike a rollback
    journal, it needs no write to be read.

    Parameters
    ----------
    path : str or Path
        The SQLite file, created if it does not exist (its folder must exist).
    X : array-like of shape (n, d), DataFrame, or an iterable of ``(X_chunk, \
y_chunk)`` pairs
        The features, or chunks of features and labels (then ``y`` must be None).
    y : array-like of shape (n,) or None
        Integer (or boolean) labels, when ``X`` is an array.
    table : str, default="data"
        Table to write.
    if_exists : {"fail", "replace", "append"}, default="fail"
        What to do when the table exists: raise (so no data is lost by a mistyped
        call), replace it (atomically, see above), or add rows to it.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skimb.data import write_sqlite, SQLiteDataset
    >>> path = os.path.join(tempfile.mkdtemp(), "chunks.db")
    >>> chunks = ((np.ones((2, 3)), [0, 1]) for _ in range(3))
    >>> write_sqlite(path, chunks)
    >>> SQLiteDataset(path).shape
    (6, 3)
    """
    if if_exists not in ("fail", "replace", "append"):
        raise ValueError(
            f"if_exists={if_exists!r} is not one of 'fail', 'replace', 'append'"
        )
    if str(table).startswith(WRITING_PREFIX):
        raise ValueError(f"table names starting {WRITING_PREFIX!r} are skimb's own")
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"folder {str(folder)!r} of {str(path)!r} does not exist"
        )
    chunks = iter(_as_chunks(X, y))
    first = next(chunks, None)
    if first is None:
        raise ValueError("X is an empty iterable: no (X_chunk, y_chunk) pairs to write")
    # Checked before the file is opened: a bad call creates no file.
    writes_frames = frames.is_frame(_as_pair(first)[0])
    check = _check_frame_chunk if writes_frames else _check_chunk
    first = check(*_as_pair(first), None)
    # Transactions are explicit (isolation_level=None).
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        # A new file's pages (a no-op on an existing one): a 256-row block of 64
        # float32 features then spans 5 pages, not 17, and one range query reads
        # fewer of them.
        conn.execute(f"PRAGMA page_size={PAGE_BYTES}")
        conn.execute("PRAGMA journal_mode=WAL")
        with _transaction(conn):
            _drop_leftovers(conn)
            layout = first[2] if writes_frames else None
            target = _prepare_table(conn, table, if_exists, layout)
            if writes_frames:
                _check_existing_columns(conn, target, layout)
                n_features = layout
            else:
                n_features = _existing_feature_count(conn, target)
            first = check(*first[:2], n_features)
            _insert(conn, target, *first)
        n_features = first[2] if writes_frames else first[0].shape[1]
        for item in chunks:
            chunk = check(*_as_pair(item), n_features)
            with _transaction(conn):  # one transaction per chunk
                _insert(conn, target, *chunk)
        if target != table:
            with _transaction(conn):  # the swap: old table or new, never half
                conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
                conn.execute(f"ALTER TABLE {quote(target)} RENAME TO {quote(table)}")
        with _transaction(conn):
            # Readers take the labels from it: a fraction of the table's pages.
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(f'{table}_label')} "
                f"ON {quote(table)}(label)"
            )
    except BaseException:
        _drop_quietly(conn, _writing_name(table))  # a replacing write's partial table
        raise
    finally:
        _leave_wal_mode(conn)
        conn.close()


def recover_sqlite(path):
    """Roll back a write that was interrupted, so that read-only readers can open it.

    A writer killed in the middle of a transaction in SQLite's rollback-journal mode
    (older skimb versions, or other programs) leaves a "hot" ``-journal`` file that
    only a read-write connection can roll back; :class:`SQLiteDataset` opens files
    read-only and reports it. This opens ``path`` read-write once (never creating
    it), which restores the last committed state, and drops the partial tables of
    crashed replacing writes.

    Parameters
    ----------
    path : str or Path
        An existing SQLite file.
    """
    path = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no SQLite file at {path!r}")
    uri = f"file:{url_quote(os.path.abspath(path))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    try:
        with _transaction(conn):  # the first read rolls a hot journal back
            _drop_leftovers(conn)
    finally:
        conn.close()


def _writing_name(table):
    return WRITING_PREFIX + str(table)


def _drop_quietly(conn, table):
    try:
        conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
    except sqlite3.Error:
        pass  # the next write_sqlite drops it


def _drop_leftovers(conn):
    """Drop tables that crashed replacing writes left behind."""
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ? ESCAPE '\\'",
        (WRITING_PREFIX.replace("_", "\\_") + "%",),
    ).fetchall()
    for (name,) in names:
        conn.execute(f"DROP TABLE {quote(name)}")


def _leave_wal_mode(conn):
    # Back to a rollback journal, so that finished files read like any other SQLite
    # file (read-only readers of a WAL file need to create its -shm file). If
    # another connection holds the file, it stays in WAL mode: still readable.
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error:
        pass


@contextmanager
def _transaction(conn):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _insert(conn, table, X_chunk, y_chunk, types=None):
    if types is not None:
        sql = frames.insert_sql(table, types)
        conn.executemany(sql, frames.frame_rows(X_chunk, y_chunk, types))
        return
    conn.executemany(
        f"INSERT INTO {quote(table)} (features, label) VALUES (?, ?)",
        zip(map(bytes, X_chunk), y_chunk.tolist(), strict=True),
    )


def _as_chunks(X, y):
    if y is not None:
        return [(X, y)]
    if hasattr(X, "shape") or (
        isinstance(X, (list, tuple)) and X and not _is_pair(X[0])
    ):
        raise ValueError(
            "y is required when X is an array; pass y, or an iterable "
            "of (X_chunk, y_chunk) pairs as X"
        )
    return X


def _check_frame_chunk(X_chunk, y_chunk, types):
    return frames.check_frame_chunk(X_chunk, y_chunk, types)


def _check_existing_columns(conn, table, types):
    """Raise unless an existing table (appended to) has the frame's columns."""
    info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
    found = [row[1] for row in info if row[1] not in frames.RESERVED]
    wanted = [name for name, _ in types]
    if found != wanted:
        raise ValueError(
            f"table {table!r} has feature columns {found}, but X has {wanted}"
        )


def _is_pair(item):
    return isinstance(item, (tuple, list)) and len(item) == 2 and np.ndim(item[1]) == 1


def _as_pair(item):
    if not _is_pair(item):
        raise ValueError(
            "with y=None, X must be an iterable of (X_chunk, y_chunk) pairs, "
            f"got an item of type {type(item).__name__}"
        )
    return item


def _check_chunk(X_chunk, y_chunk, n_features):
    X_chunk = np.ascontiguousarray(X_chunk, dtype=np.float32)
    y_chunk = np.asarray(y_chunk)
    if X_chunk.ndim != 2:
        raise ValueError(f"X must be 2-d, got shape {X_chunk.shape}")
    if len(X_chunk) != len(y_chunk) or y_chunk.ndim != 1:
        raise ValueError(f"X has {len(X_chunk)} rows but y has shape {y_chunk.shape}")
    if n_features is not None and X_chunk.shape[1] != n_features:
        raise ValueError(
            f"chunk has {X_chunk.shape[1]} features, the table has {n_features}"
        )
    if not np.isfinite(X_chunk).all():
        raise ValueError("X contains NaN or infinity")
    if y_chunk.dtype == bool:
        y_chunk = y_chunk.astype(np.int64)
    if not np.issubdtype(y_chunk.dtype, np.integer):
        raise ValueError(
            f"labels must be integers or booleans, got dtype {y_chunk.dtype}"
        )
    return X_chunk, y_chunk


def _prepare_table(conn, table, if_exists, types=None):
    """Create the table to write into (``types``: the columns of a frame's) and
    return its name."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    if exists and if_exists == "fail":
        raise ValueError(
            f"table {table!r} already exists; pass if_exists='replace' or 'append'"
        )
    target = _writing_name(table) if exists and if_exists == "replace" else table
    if types is not None:
        conn.execute(frames.create_sql(target, types))
        return target
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {quote(target)} "
        "(id INTEGER PRIMARY KEY, features BLOB NOT NULL, label INTEGER NOT NULL)"
    )
    return target


def _existing_feature_count(conn, table):
    row = conn.execute(
        f"SELECT length(features) FROM {quote(table)} LIMIT 1"
    ).fetchone()
    return None if row is None else row[0] // 4
