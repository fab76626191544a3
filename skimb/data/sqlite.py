"""A lazy, read-only torch Dataset over one SQLite table, and the writer for it."""

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from torch.utils.data import Dataset

from .batches import Batch

# Rows read by key per query: under SQLite's default limit on host parameters per
# statement (32766 since 3.32), and few enough that the Python object a query
# returns per row (~3x the row's bytes while decoded) stays a few MiB.
_KEY_READ_ROWS = 4096
# Rows per cached block. A block is read whole with one range query, which runs at the
# speed of a sequential scan (about 5x a lookup by key per row).
BLOCK_ROWS = 256
_BLOCK_BITS = BLOCK_ROWS.bit_length() - 1  # BLOCK_ROWS is a power of two
# A block is read whole only when a batch asks for at least this many of its rows
# (a window of a block shuffle, or a pass in row order over a split), ...
_DENSE_ROWS = 8
# ... or when the batch as a whole asks for at least this many rows per block it
# touches (the batch that opens a block-shuffled window: it draws a few rows from
# each of the new window's blocks, and the rest from the last window's); other rows
# are read by key. A random batch over a large table asks about one per block.
_DENSE_BATCH = 4
_NO_ROWS = np.empty(0, dtype=np.int64)
# SQLite 3.44+ takes an ORDER BY inside an aggregate (group_concat); before it,
# group_concat joins in the order the scan visits the rows.
_ORDERED_AGGREGATES = sqlite3.sqlite_version_info >= (3, 44)


class SQLiteDataset(Dataset):
    """Rows of one SQLite table as ``(x, y)`` pairs, read lazily, by batch.

    Rows are addressed by their primary key, never by ``OFFSET``, and a whole batch is
    one query (``__getitems__``), decoded with one ``np.frombuffer``. The file is opened
    read-only (``mode=ro``: a wrong path never creates a file) and lazily in each
    process, so the dataset is safe with DataLoader workers (fork or spawn) and joblib;
    it pickles as its parameters and the row selection.

    ``ds[rows]`` with an int array, a list, a slice or a boolean mask (also the
    ``ds[rows, ...]`` form of scikit-learn's ``_safe_indexing``) returns a view: a
    ``SQLiteDataset`` restricted to those rows, reading no data. So scikit-learn's
    splitters, ``cross_val_score(clf, ds, ds.labels)`` and ``GridSearchCV`` work on it
    unchanged. A view of a view indexes into its parent's rows.

    Parameters
    ----------
    path : str or Path
        The SQLite file. It must exist.
    table : str, default="data"
        The table to read.
    features : None, str or list of str, default=None
        ``None``: every column but ``label`` and the row id (one BLOB column is read as
        float32 vectors, otherwise the columns are numeric features); a str: one BLOB
        column of float32 vectors; a list: numeric columns, in that order.
    label : str, default="label"
        The label column.
    cache_mib : float, default=64
        Memory for the block cache: decoded features of recently used blocks of
        ``BLOCK_ROWS`` (256) consecutive rows. A block is read whole, with one range
        query, when a batch asks for at least 8 of its rows, as the batches of
        :class:`skimb.samplers.BlockShuffleSampler` and passes in row order over a
        split do; it then serves the following batches from memory. Random batches
        over a large table (a row or two per block) are read by primary key. ``0``
        turns the cache off. The bound holds per dataset object and process (a
        DataLoader worker has its own); it is allocated as blocks are stored. Rows
        held with :meth:`hold_rows` come on top of it. Each epoch opens with the
        blocks the cache kept from the last one, so a larger cache saves rereads
        in proportion: ``benchmarks/bench_sqlite_defaults.py --cache-mib 32 64
        128 256`` measured a classifier fit with its defaults on 1,000,000 x 64 at
        1.35x / 1.39x / 1.32x / 1.28x the same fit in memory (32 MiB, the default
        64, 128, 256), and 128 MiB at 1.42x against 64 MiB's 1.46x in a faster
        state of the machine, for 60 MiB more peak memory.

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_features)`` of the selected rows.
    labels : ndarray
        Every selected row's label, read without touching the features; integer
        labels in the smallest integer type that holds both values (``int8`` for
        0/1), as memory per row counts on tables of millions of rows.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skimb.data import SQLiteDataset, write_sqlite
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.db")
    >>> write_sqlite(path, np.arange(6, dtype=np.float32).reshape(3, 2), [0, 1, 0])
    >>> ds = SQLiteDataset(path)
    >>> ds.shape, ds.labels.tolist()
    ((3, 2), [0, 1, 0])
    >>> x, y = ds[1]
    >>> x.tolist(), int(y)
    ([2.0, 3.0], 1)
    >>> ds[[2, 0]].labels.tolist()
    [0, 0]
    """

    #: Reads fastest in storage order: the classifier block-shuffles it by default.
    reads_in_blocks = True

    def __init__(
        self, path, table="data", features=None, label="label", *, cache_mib=64
    ):
        self.path = str(path)
        self.table = table
        self.features = features
        self.label = label
        self.cache_mib = cache_mib
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"no SQLite file at {self.path!r}")
        if (
            isinstance(cache_mib, bool)
            or not isinstance(cache_mib, (int, float, np.integer, np.floating))
            or not cache_mib >= 0
        ):
            raise ValueError(f"cache_mib must be a number >= 0, got {cache_mib!r}")
        self._positions = None  # None: every row, in primary-key order
        self._held = None
        self._joined_sql = None
        self._all_ids = self._all_labels = None
        self._cache = None
        # Connections, and the passing_through flag, per thread: threads sharing
        # the dataset (joblib's threading backend) never share a connection, which
        # Python's sqlite3 does not support using from two threads at once.
        self._local = threading.local()
        self._resolve_schema()

    # -- schema ----------------------------------------------------------------
    def _resolve_schema(self):
        conn = self._connection()
        try:
            names = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
            ).fetchall()
        except sqlite3.DatabaseError as error:
            raise _open_error(self.path, self.table, error) from error
        # A replacing write that crashed leaves its partial table: not data.
        tables = [r[0] for r in names if not r[0].startswith(WRITING_PREFIX)]
        if self.table not in tables:
            raise ValueError(
                f"no table {self.table!r} in {self.path!r}; tables are {tables}"
            )
        info = conn.execute(f"PRAGMA table_info({_quote(self.table)})").fetchall()
        columns = {row[1]: (row[2] or "").upper() for row in info}
        primary = [
            row[1] for row in info if row[5] == 1 and row[2].upper() == "INTEGER"
        ]
        self._id_column = primary[0] if len(primary) == 1 else "rowid"
        if self.label not in columns:
            raise ValueError(
                f"no label column {self.label!r} in table {self.table!r}; "
                f"columns are {list(columns)}"
            )
        if self.features is None:
            names = [c for c in columns if c not in (self.label, self._id_column)]
            if len(names) == 1 and columns[names[0]] == "BLOB":
                names = names[0]
        else:
            names = self.features
        wanted = [names] if isinstance(names, str) else list(names)
        missing = [c for c in wanted if c not in columns]
        if missing or not wanted:
            raise ValueError(
                f"feature column(s) {missing or wanted} not in table {self.table!r}; "
                f"columns are {list(columns)}"
            )
        self._blob_column = names if isinstance(names, str) else None
        self._feature_columns = wanted
        self.n_features = self._count_features(conn)

    def _count_features(self, conn):
        if self._blob_column is None:
            return len(self._feature_columns)
        row = conn.execute(
            f"SELECT length({_quote(self._blob_column)}) FROM {_quote(self.table)} "
            "LIMIT 1"
        ).fetchone()
        if row is None or row[0] is None:
            raise ValueError(
                f"table {self.table!r} in {self.path!r} has no rows (or a NULL "
                f"{self._blob_column!r} in its first row): nothing to train on or to "
                "read a feature vector length from; skimb.data.write_sqlite writes "
                "a non-empty table"
            )
        return row[0] // 4

    # -- connection, per process -------------------------------------------------
    def _connection(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or forked
            local.conn, local.bytes_conn, local.pid = None, None, os.getpid()
        if local.conn is None:
            local.conn = self._open_read_only()
        return local.conn

    def _open_read_only(self):
        uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        # A busy timeout lets reads wait out another process's commit.
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    def __getstate__(self):
        state = self.__dict__.copy()
        # Reopened (and the id/label columns re-read) lazily in the new process.
        state.update(
            _local=None,
            _held=None,
            _all_ids=None,
            _all_labels=None,
            _cache=None,
        )
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    # -- ids and labels ----------------------------------------------------------
    def _load_ids_and_labels(self):
        if self._all_ids is None:
            self._all_ids, self._all_labels = self._read_ids_and_labels()
        return self._all_ids, self._all_labels

    def _read_ids_and_labels(self):
        """All row ids in primary-key order, and the label of each.

        Binary labels with an index on them (as ``write_sqlite`` makes) are read
        through the index. Without one, a table with at most two numeric label
        values is read with one scan that returns a single string, one character
        per row (whether its label is the first row's label): about a third of the
        time of reading an (id, label) tuple per row, which is the fallback for any
        other table. The ids are a range when they have no gaps.
        """
        from_index = self._ids_and_labels_from_index()
        if from_index is not None:
            return from_index
        conn = self._bytes_connection()
        if conn is None:
            return self._read_id_label_rows()
        table, id_col = _quote(self.table), _quote(self._id_column)
        label = _quote(self.label)
        first = conn.execute(f"SELECT {label} FROM {table} LIMIT 1").fetchone()
        if first is None or first[0] is None or isinstance(first[0], bytes):
            # empty, NULL or text labels (text arrives as this connection's bytes)
            return self._read_id_label_rows()
        in_order = f" ORDER BY {id_col}" if _ORDERED_AGGREGATES else ""
        flags, n, low, high, other, other_max = conn.execute(
            f"SELECT group_concat({label} = :v, ''{in_order}), COUNT(*), "
            f"MIN({id_col}), MAX({id_col}), "
            f"MIN(CASE WHEN {label} <> :v THEN {label} END), "
            f"MAX(CASE WHEN {label} <> :v THEN {label} END) FROM {table}",
            {"v": first[0]},
        ).fetchone()
        if len(flags) != n or other != other_max:  # NULL labels, or > 2 values
            return self._read_id_label_rows()
        if isinstance(other, bytes):
            return self._read_id_label_rows()  # text labels: this connection's bytes
        ids = self._all_row_ids(conn, n, low, high)
        is_first = np.frombuffer(flags, dtype=np.uint8) == ord("1")
        if other is None:
            return ids, np.full(n, first[0], dtype=_label_dtype(first[0]))
        labels = np.full(n, other, dtype=_label_dtype(other, first[0]))
        labels[is_first] = first[0]
        return ids, labels

    def _ids_and_labels_from_index(self):
        """Ids and binary labels read through an index on the label column (as
        ``write_sqlite`` makes), touching only the index and the rarer class's
        entries; None where the table has no such index, or its labels are not two
        values without NULLs (the other reads handle those)."""
        conn, table = self._connection(), _quote(self.table)
        if not self._label_is_indexed(conn):
            return None
        id_col, label = _quote(self._id_column), _quote(self.label)

        def one(sql, *params):
            row = conn.execute(sql, params).fetchone()
            return None if row is None else row[0]

        low_label = one(f"SELECT {label} FROM {table} ORDER BY {label} LIMIT 1")
        high_label = one(f"SELECT {label} FROM {table} ORDER BY {label} DESC LIMIT 1")
        if low_label is None or low_label == high_label:  # NULLs sort first
            return None
        between = f"SELECT 1 FROM {table} WHERE {label} > ? AND {label} < ? LIMIT 1"
        if one(between, low_label, high_label) is not None:
            return None  # a third value
        n = one(f"SELECT COUNT(*) FROM {table}")
        low, high = (
            one(f"SELECT MIN({id_col}) FROM {table}"),
            one(f"SELECT MAX({id_col}) FROM {table}"),
        )
        # Which value is rarer: counting stops half-way through the commoner one.
        count_low = one(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {label} = ? LIMIT ?)",
            low_label,
            n // 2 + 1,
        )
        rare, common = low_label, high_label
        if count_low > n // 2:
            rare, common = common, rare
        ids_of_rare = _read_column(
            conn.execute(
                f"SELECT {id_col} FROM {table} WHERE {label} = ? ORDER BY 1", (rare,)
            )
        )
        ids = self._all_row_ids(conn, n, low, high)
        labels = np.full(n, common, dtype=_label_dtype(common, rare))
        labels[ids.searchsorted(ids_of_rare)] = rare
        return ids, labels

    def _all_row_ids(self, conn, n, low, high):
        """The table's ``n`` row ids in order, lowest ``low`` and highest ``high``:
        a range when there are no gaps (as ``write_sqlite`` writes them), else
        read."""
        if high - low + 1 == n:
            return _IdRange(low, n)
        return _read_column(
            conn.execute(
                f"SELECT {_quote(self._id_column)} FROM {_quote(self.table)} ORDER BY 1"
            )
        )

    def _label_is_indexed(self, conn):
        for index in conn.execute(f"PRAGMA index_list({_quote(self.table)})"):
            columns = conn.execute(f"PRAGMA index_info({_quote(index[1])})").fetchall()
            partial = index[4] if len(index) > 4 else 0
            if columns and columns[0][2] == self.label and not partial:
                return True
        return False

    def _read_id_label_rows(self):
        cursor = self._connection().execute(
            f"SELECT {_quote(self._id_column)}, {_quote(self.label)} "
            f"FROM {_quote(self.table)} ORDER BY 1"
        )
        # In blocks: a list of one tuple per row would cost ~130 bytes a row.
        ids, labels = [], []
        while block := cursor.fetchmany(65536):
            ids.append(np.fromiter((r[0] for r in block), np.int64, len(block)))
            labels.append(np.array([r[1] for r in block]))
        if not ids:
            return np.empty(0, np.int64), np.empty(0)
        ids, labels = np.concatenate(ids), np.concatenate(labels)
        missing = np.flatnonzero(np.equal(labels, None))
        if missing.size:
            raise ValueError(
                f"label column {self.label!r} of table {self.table!r} in "
                f"{self.path!r} is NULL in {missing.size} rows (ids "
                f"{ids[missing[:5]].tolist()}...); every row needs one of two "
                "labels, as skimb.data.write_sqlite writes"
            )
        if labels.dtype.kind == "i" and labels.size:  # as the other reads give them
            labels = labels.astype(_label_dtype(labels.min(), labels.max()))
        return ids, labels

    def _selected(self, array):
        return array if self._positions is None else array[self._positions]

    @property
    def labels(self):
        return self._selected(self._load_ids_and_labels()[1])

    @property
    def shape(self):
        return (len(self), self.n_features)

    def __len__(self):
        if self._positions is not None:
            return len(self._positions)
        if self._all_ids is None:
            return (
                self._connection()
                .execute(f"SELECT COUNT(*) FROM {_quote(self.table)}")
                .fetchone()[0]
            )
        return len(self._all_ids)

    # -- indexing ----------------------------------------------------------------
    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing: ds[rows, ...]
            if len(key) != 2 or key[1] not in (Ellipsis, slice(None)):
                raise IndexError(
                    f"SQLiteDataset supports ds[rows] and ds[rows, ...], got {key!r}"
                )
            key = key[0]
        if isinstance(key, (int, np.integer)):
            X, y = self._fetch(np.array([key]))
            return X[0], y[0]
        return self._view(key)

    def __getitems__(self, indices):
        if isinstance(indices, slice):
            indices = np.arange(*indices.indices(len(self)))
        X, y = self._fetch(np.asarray(indices, dtype=np.int64))
        return Batch((torch.from_numpy(X), torch.from_numpy(y)))

    def _view(self, key):
        n = len(self)
        positions = np.arange(n)[key] if isinstance(key, slice) else np.asarray(key)
        if positions.dtype == bool:
            if positions.shape != (n,):
                raise IndexError(
                    f"boolean mask of shape {positions.shape} does not match {n} rows"
                )
            positions = np.flatnonzero(positions)
        if positions.size and not np.issubdtype(positions.dtype, np.integer):
            raise IndexError(
                f"rows must be ints or a boolean mask, got dtype {positions.dtype}"
            )
        positions = positions.astype(np.int64).ravel()
        if positions.size and (positions.min() < -n or positions.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        positions = np.where(positions < 0, positions + n, positions)
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        parent = self._positions
        view._positions = positions if parent is None else parent[positions]
        return view

    def storage_positions(self, rows=None):
        """Row number in the table's primary-key order of each row of this view (of
        every row: ``0 .. n - 1``, for the whole table), or of the rows ``rows`` of
        it. Samplers cut their blocks over these positions, so that their blocks
        are the cache's blocks.

        Parameters
        ----------
        rows : array-like of int or None, default=None
            Rows of this view; None: all of them. For the whole table, the
            positions are the rows themselves (returned as given, no copy).
        """
        if self._positions is None:
            return np.arange(len(self)) if rows is None else rows
        return self._positions.copy() if rows is None else self._positions[rows]

    def _storage_order(self):
        """Positions that put this view's rows in primary-key order, or None when
        they are in that order already."""
        positions = self._positions
        if positions is None or not np.any(positions[1:] < positions[:-1]):
            return None
        return np.argsort(positions, kind="stable")

    # -- reading -----------------------------------------------------------------
    def _fetch(self, indices, by_key=False):
        """Features (float32, 2-d) and labels of the rows at these positions
        (``by_key``: each read by its key, the block cache left out)."""
        ids, labels = self._load_ids_and_labels()
        n = len(self)
        if indices.size:
            lowest, highest = indices.min(), indices.max()
            if lowest < -n or highest >= n:
                raise IndexError(f"row index out of range for {n} rows")
            if lowest < 0:
                indices = np.where(indices < 0, indices + n, indices)
        positions = indices if self._positions is None else self._positions[indices]
        X = np.empty((len(positions), self.n_features), dtype=np.float32)
        # Held rows are left out of the block reads (a held positive's block is
        # not worth a read) and filled last, over whatever the cache wrote there.
        held = None if self._held is None else self._held.holds(positions)
        rest = self._fill_from_blocks(positions, X, held, by_key)
        if held is not None:
            self._held.fill(positions, X, held)
        for start in range(0, len(rest), _KEY_READ_ROWS):
            chunk = rest[start : start + _KEY_READ_ROWS]
            X[chunk] = self._read_features(ids[positions[chunk]])
        return X, labels[positions]

    def hold_rows(self, rows):
        """Read these rows now (in key order) and keep them decoded in memory for
        the rest of this object's life, or until the next call (``None`` lets them
        go).

        For rows that batches ask for every epoch, but one at a time: the
        positives, which :class:`~skimb.samplers.BlockShuffleSampler` spreads over
        the epoch and which would otherwise be read by key each time. The
        classifier holds a fit's training positives, up to 16 MiB of them.

        Parameters
        ----------
        rows : array-like of int or None
            Rows of this dataset (positions, as for indexing).
        """
        self._held = None
        if rows is not None:
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            # By key: scattered rows, whose blocks are not worth reading, nor
            # caching.
            features = self._fetch(rows, by_key=True)[0]
            positions = rows if self._positions is None else self._positions[rows]
            if np.any(positions[1:] < positions[:-1]):  # else no sorted copies
                order = np.argsort(positions)
                positions, features = positions[order], features[order]
            n_table_rows = len(self._load_ids_and_labels()[0])
            self._held = _HeldRows(positions, features, n_table_rows)

    # -- block cache -------------------------------------------------------------
    def cache_blocks(self):
        """How many blocks of ``BLOCK_ROWS`` rows the block cache holds at most (0
        with ``cache_mib=0``): samplers that know it can start an epoch with the
        blocks the last one left in the cache."""
        if not self.cache_mib > 0:
            return 0
        block_bytes = BLOCK_ROWS * self.n_features * 4
        return min(int(self.cache_mib * 2**20 // block_bytes), self._n_blocks())

    def _n_blocks(self):
        """Blocks of ``BLOCK_ROWS`` rows the table is cut into."""
        return -(-len(self._load_ids_and_labels()[0]) // BLOCK_ROWS)

    @contextmanager
    def passing_through(self):
        """Within the block, this thread's reads leave the block cache as it is:
        blocks are still read whole, but not kept.

        For a pass over rows that the caller keeps itself (the classifier's
        validation rows, held after one read): kept in the cache, their blocks
        would push out the training blocks the next epoch starts with.
        """
        before = getattr(self._local, "passing", False)
        self._local.passing = True
        try:
            yield self
        finally:
            self._local.passing = before

    def _fill_from_blocks(self, positions, X, skip=None, by_key=False):
        """Fill the rows of X that the block cache can serve; return the rows it
        cannot, other than those in ``skip`` (a mask, or None).

        ``positions`` are row numbers in the table's primary-key order; block ``b``
        holds rows ``[b * BLOCK_ROWS, (b + 1) * BLOCK_ROWS)``. A block is read whole
        (one range query, decoded once, kept while recently used) when a batch asks
        for at least ``_DENSE_ROWS`` of its rows: the shuffled batches of
        :class:`~skimb.samplers.BlockShuffleSampler` (the next batches of the window
        ask for the rest) and passes in row order over a dense subset (the scaling
        and validation passes over a split), which a range read serves faster than
        lookups by key, and which the next epoch's batches then find in the cache.
        Random batches over a large table ask for a row or two per block, so they
        are read by key. Rows of X that are not served (those returned and those
        skipped) may be written with other rows' values: their caller fills them.
        ``by_key``: the cache is left out, and every row not skipped is returned.
        """
        cache = None if by_key else self._block_cache()
        if cache is None:
            every = np.arange(len(positions))
            return every if skip is None else every[~skip]
        # Threads (e.g. joblib's threading backend) share the dataset and its cache.
        with cache.lock:
            return self._fill_from_cache(cache, positions, X, skip)

    def _fill_from_cache(self, cache, positions, X, skip=None):
        blocks = positions >> _BLOCK_BITS  # // BLOCK_ROWS, a power of two
        slot_per_row = cache.slot_of[blocks]
        cached = slot_per_row >= 0
        all_cached = bool(cached.all())
        cache.tick += 1
        # Skipped rows (held positives, scattered over the table) do not count as
        # uses: the least recently used blocks are those the sampler has left.
        used = cached if skip is None else cached & ~skip
        cache.last_used[slot_per_row[used]] = cache.tick
        filled = None  # rows read passing through the cache
        if not all_cached:
            missing = ~cached if skip is None else ~cached & ~skip
            to_read = _NO_ROWS
            if missing.any():
                to_read = _blocks_to_read(blocks, missing, slot_per_row)
            if getattr(self._local, "passing", False):
                if len(to_read):
                    filled = to_read
            # Blocks this batch uses were just marked, so the least recently used
            # slots go first; rows of a block evicted here are read by key below.
            # More blocks than slots would evict each other: read by key.
            elif 0 < len(to_read) <= cache.capacity:
                free = np.argpartition(cache.last_used, len(to_read) - 1)
                for block, slot in zip(
                    to_read.tolist(), free[: len(to_read)].tolist(), strict=True
                ):
                    cache.store(block, slot, self._read_block(block))
                slot_per_row = cache.slot_of[blocks]
                cached = slot_per_row >= 0
        # One gather for the whole batch: a row whose block is not cached has slot
        # -1, which indexes the slab's last block (a wrong row, overwritten below or
        # by the caller).
        np.take(
            cache.slab.reshape(-1, self.n_features),
            _slab_rows(slot_per_row, positions),
            axis=0,
            out=X,
        )
        if filled is not None:
            cached = cached | self._fill_passing(filled, blocks, positions, X)
        left = ~cached if skip is None else ~cached & ~skip
        return np.flatnonzero(left) if not all_cached else _NO_ROWS

    def _fill_passing(self, to_read, blocks, positions, X):
        """Read the blocks ``to_read`` (ascending) whole and fill X's rows in them,
        keeping none (see :meth:`passing_through`); return which rows were filled."""
        filled = np.isin(blocks, to_read)
        order = np.flatnonzero(filled)
        order = order[np.argsort(blocks[order], kind="stable")]  # block by block
        per_block = np.bincount(
            np.searchsorted(to_read, blocks[order]), minlength=len(to_read)
        )
        ends = np.cumsum(per_block)
        for block, start, end in zip(
            to_read.tolist(), (ends - per_block).tolist(), ends.tolist(), strict=True
        ):
            here = order[start:end]
            X[here] = self._read_block(block)[positions[here] & (BLOCK_ROWS - 1)]
        return filled

    def _block_cache(self):
        if self._cache is not None and self._cache.pid != os.getpid():
            self._cache = None  # a forked process: its own cache, and lock
        if self._cache is None:
            capacity = self.cache_blocks()
            if capacity >= 1:
                self._cache = _BlockCache(self._n_blocks(), capacity, self.n_features)
        return self._cache

    def _read_block(self, block):
        ids = self._load_ids_and_labels()[0]
        first, last = block * BLOCK_ROWS, min((block + 1) * BLOCK_ROWS, len(ids)) - 1
        if self._blob_column is not None:
            features = self._read_joined_blobs(ids[first : last + 1])
            if features is not None:
                return features
        id_col = _quote(self._id_column)
        # Features only: the ids of a range are known, and skipping them makes the
        # read about 30% faster (fewer Python objects per row).
        rows = (
            self._connection()
            .execute(
                f"SELECT {self._columns_sql()} FROM {_quote(self.table)} "
                f"WHERE {id_col} BETWEEN ? AND ? ORDER BY {id_col}",
                (int(ids[first]), int(ids[last])),
            )
            .fetchall()
        )
        self._check_unchanged(ids[first : last + 1], len(rows))
        return self._decode(rows, 0, lambda i: ids[first + i])

    def _read_joined_blobs(self, range_ids):
        """Features of the rows with these consecutive ids, read as one joined BLOB:
        one Python object per block instead of one per row, about 2.4x faster.

        ``group_concat`` joins the BLOBs in the order the range scan of the primary
        key visits the rows, which is key order (SQLite 3.44+ is told so with an
        ORDER BY inside the aggregate; before it, this is the scan's order).
        None where the range holds a NULL or wrongly sized BLOB: the row-by-row
        read then names the row.
        """
        conn = self._bytes_connection()
        if conn is None:
            return None
        if self._joined_sql is None:  # built once: this runs for every block
            blob, id_col = _quote(self._blob_column), _quote(self._id_column)
            in_order = f" ORDER BY {id_col}" if _ORDERED_AGGREGATES else ""
            self._joined_sql = (
                f"SELECT group_concat({blob}, ''{in_order}), COUNT(*) "
                f"FROM {_quote(self.table)} WHERE {id_col} BETWEEN ? AND ?"
            )
        joined, n_found = conn.execute(
            self._joined_sql, (int(range_ids[0]), int(range_ids[-1]))
        ).fetchone()
        self._check_unchanged(range_ids, n_found)
        if joined is None or len(joined) != 4 * self.n_features * len(range_ids):
            return None
        return np.frombuffer(joined, dtype=np.float32).reshape(
            len(range_ids), self.n_features
        )

    def _bytes_connection(self):
        """A second read-only connection that returns text as bytes (for joined
        BLOBs), or None where the file's text encoding is not UTF-8, as a joined
        BLOB read as UTF-16 text would not keep its bytes."""
        self._connection()  # this thread's connections, fresh after a fork
        local = self._local
        if local.bytes_conn is None:
            handle = self._open_read_only()
            handle.text_factory = bytes
            encoding = handle.execute("PRAGMA encoding").fetchone()[0]
            if encoding != b"UTF-8":
                handle.close()
                handle = False  # not None: asked once per thread
            local.bytes_conn = handle
        return local.bytes_conn or None

    def _check_unchanged(self, wanted_ids, n_found):
        if n_found != len(wanted_ids):
            raise RuntimeError(
                f"table {self.table!r} changed while it was read: "
                f"{len(wanted_ids) - n_found} of the row ids asked for (between "
                f"{wanted_ids.min()} and {wanted_ids.max()}) are gone; open a new "
                "SQLiteDataset"
            )

    def _columns_sql(self):
        if self._blob_column:
            return _quote(self._blob_column)
        return ", ".join(map(_quote, self._feature_columns))

    def _read_features(self, wanted_ids):
        """Features of the rows with these ids (any order, repeats allowed)."""
        unique_ids = np.unique(wanted_ids)
        id_col = _quote(self._id_column)
        select = f"SELECT {self._columns_sql()} FROM {_quote(self.table)} WHERE "
        if unique_ids[-1] - unique_ids[0] + 1 == len(unique_ids):
            # A contiguous run of ids (sequential prediction): one range read.
            where = f"{id_col} BETWEEN ? AND ?"
            params = (int(unique_ids[0]), int(unique_ids[-1]))
        else:
            where = f"{id_col} IN ({','.join('?' * len(unique_ids))})"
            params = unique_ids.tolist()
        # Rows come back in id order (SQLite walks the sorted IN list or the range,
        # no sort step), one per unique id, so no id column needs reading.
        rows = (
            self._connection()
            .execute(f"{select}{where} ORDER BY {id_col}", params)
            .fetchall()
        )
        self._check_unchanged(unique_ids, len(rows))
        features = self._decode(rows, 0, lambda i: unique_ids[i])
        return features[np.searchsorted(unique_ids, wanted_ids)]

    def _decode(self, rows, start, row_id):
        """Float32 features of ``rows``, whose values from ``start`` on are features;
        ``row_id(i)`` names row ``i`` in errors."""
        if self._blob_column is None:
            values = rows if start == 0 else [r[start:] for r in rows]
            return np.array(values, dtype=np.float32).reshape(
                len(rows), self.n_features
            )
        blobs = [r[start] for r in rows]
        expected = 4 * self.n_features
        buffer = b"".join(blobs)
        if len(buffer) != expected * len(blobs):
            bad = next(
                i for i, b in enumerate(blobs) if b is None or len(b) != expected
            )
            raise ValueError(
                f"row id {row_id(bad)} of table {self.table!r} has a feature BLOB "
                f"that is not {self.n_features} float32 values ({expected} bytes)"
            )
        return np.frombuffer(buffer, dtype=np.float32).reshape(
            len(blobs), self.n_features
        )

    def __repr__(self):
        return (
            f"SQLiteDataset({self.path!r}, table={self.table!r}, "
            f"features={self.features!r}, label={self.label!r}) with "
            f"{len(self)} rows"
        )


def _label_dtype(*values):
    """The smallest integer type that holds these labels (int8 for 0/1: a byte a
    row, where int64 took eight), or NumPy's type for them when they are not ints."""
    if all(isinstance(v, (int, np.integer)) for v in values):
        for dtype in (np.int8, np.int16, np.int32):
            info = np.iinfo(dtype)
            if all(info.min <= v <= info.max for v in values):
                return dtype
        return np.int64
    return np.asarray(values).dtype


def _slab_rows(slots, positions):
    """Row of the cache's slab (as ``(capacity * BLOCK_ROWS, n_features)``) that
    holds each position, given its block's slot."""
    return (slots.astype(np.int64) << _BLOCK_BITS) | (positions & (BLOCK_ROWS - 1))


def _blocks_to_read(blocks, missing, slot_per_row):
    """The blocks (ascending) a batch reads whole: those it asks for at least
    ``_DENSE_ROWS`` rows of, or, when the batch asks for ``_DENSE_BATCH`` rows per
    block it touches, every block it misses."""
    missing_blocks = blocks[missing]
    first = missing_blocks.min()
    rows_asked = np.bincount(missing_blocks - first)
    asked = np.flatnonzero(rows_asked)
    # The batch that opens a block-shuffled window asks a few rows of each of the
    # window's blocks (the rest of its rows come from the window before): read by
    # key, they would be read again, whole, by the next batch.
    touched = len(asked) + np.unique(slot_per_row[slot_per_row >= 0]).size
    if len(blocks) >= _DENSE_BATCH * touched:
        return asked + first
    return np.flatnonzero(rows_asked >= _DENSE_ROWS) + first


class _IdRange:
    """The row ids ``low, low + 1, ..., low + n - 1`` of a table without gaps (as
    ``write_sqlite`` writes them), indexed like the int64 array of them without
    holding it (8 bytes a row).

    Takes ints, slices (an array back) and arrays of non-negative positions.
    """

    def __init__(self, low, n):
        self.low, self.n = int(low), int(n)

    def __len__(self):
        return self.n

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.n)
            return np.arange(self.low + start, self.low + stop, step, dtype=np.int64)
        if isinstance(key, (int, np.integer)):
            index = int(key) + (self.n if key < 0 else 0)
            if not 0 <= index < self.n:
                raise IndexError(f"row {int(key)} out of range for {self.n} ids")
            return self.low + index
        return np.asarray(key, dtype=np.int64) + self.low

    def searchsorted(self, ids):
        """Positions of these ids (all of them in the range)."""
        return np.asarray(ids, dtype=np.int64) - self.low

    def __array__(self, dtype=None, copy=None):
        return np.arange(self.low, self.low + self.n, dtype=dtype or np.int64)


class _HeldRows:
    """Decoded rows kept by table position; see ``hold_rows``.

    Which positions are held is also kept as one bit per table row (125 KB for a
    million rows): every batch asks, and a bit lookup costs a fraction of a binary
    search of the held positions (38 us per 512-row batch among 13,500 held rows).
    """

    def __init__(self, positions, features, n_table_rows):
        self.positions, self.features = positions, features
        # Set bit by bit (no array of a byte per table row on the way).
        self.bits = np.zeros(-(-n_table_rows // 8), dtype=np.uint8)
        np.bitwise_or.at(
            self.bits, positions >> 3, (1 << (positions & 7)).astype(np.uint8)
        )

    def holds(self, positions):
        """Whether each of these table positions is held."""
        bits = self.bits[positions >> 3] >> (positions & 7).astype(np.uint8)
        return (bits & 1).view(bool)

    def fill(self, positions, X, held):
        """Fill the rows of X that ``held`` (from :meth:`holds`) marks."""
        rows = np.flatnonzero(held)
        if len(rows):
            X[rows] = self.features[np.searchsorted(self.positions, positions[rows])]


class _BlockCache:
    """Decoded blocks in a fixed slab of ``capacity`` slots, least recently used out.

    Everything is a NumPy array indexed by block or slot, so a batch is served with a
    few vectorised operations whatever its number of blocks.
    """

    def __init__(self, n_blocks, capacity, n_features):
        self.capacity = capacity
        # Pages cost memory only once a block is stored in them. Allocated by torch,
        # not NumPy: NumPy asks for transparent huge pages on arrays over 4 MiB, and
        # where the kernel compacts memory to make them (THP defrag "madvise"), the
        # first store into each slot took ~5x longer (144 vs 27 us per 64 KiB slot,
        # benchmarks/bench_sqlite_defaults.py's machine).
        self.slab = torch.empty(
            (capacity, BLOCK_ROWS, n_features), dtype=torch.float32
        ).numpy()
        self.slot_of = np.full(n_blocks, -1, dtype=np.int32)  # block -> slot
        self.block_in = np.full(capacity, -1, dtype=np.int64)  # slot -> block
        self.last_used = np.zeros(capacity, dtype=np.int64)  # batch count
        self.tick = 0
        self.lock = threading.Lock()
        self.pid = os.getpid()

    def store(self, block, slot, features):
        old = self.block_in[slot]
        if old >= 0:
            self.slot_of[old] = -1
        self.slab[slot, : len(features)] = features
        self.slot_of[block], self.block_in[slot] = slot, block
        self.last_used[slot] = self.tick


def write_sqlite(path, X, y=None, table="data", if_exists="fail"):
    """Write features and labels into a SQLite table that :class:`SQLiteDataset` reads.

    The table has an ``id INTEGER PRIMARY KEY``, a ``features`` BLOB of float32 values
    and an integer ``label``. Each chunk is written in one transaction, so data that
    never fits in memory can be streamed in.

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
    X : array-like of shape (n, d), or an iterable of ``(X_chunk, y_chunk)`` pairs
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
    first = _check_chunk(*_as_pair(first), None)
    # Transactions are explicit (isolation_level=None).
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        # A new file's pages (a no-op on an existing one): a 256-row block of 64
        # float32 features then spans 5 pages instead of 17, and reads in 34 us
        # instead of 44 (benchmarks/bench_sqlite_defaults.py's machine).
        conn.execute(f"PRAGMA page_size={PAGE_BYTES}")
        conn.execute("PRAGMA journal_mode=WAL")
        with _transaction(conn):
            _drop_leftovers(conn)
            target = _prepare_table(conn, table, if_exists)
            n_features = _existing_feature_count(conn, target)
            _insert(conn, target, *_check_chunk(*first, n_features))
        n_features = first[0].shape[1]
        for item in chunks:
            X_chunk, y_chunk = _check_chunk(*_as_pair(item), n_features)
            with _transaction(conn):  # one transaction per chunk
                _insert(conn, target, X_chunk, y_chunk)
        if target != table:
            with _transaction(conn):  # the swap: old table or new, never half
                conn.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
                conn.execute(f"ALTER TABLE {_quote(target)} RENAME TO {_quote(table)}")
        with _transaction(conn):
            # Readers take the labels from it: a fraction of the table's pages.
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {_quote(f'{table}_label')} "
                f"ON {_quote(table)}(label)"
            )
    except BaseException:
        _drop_quietly(conn, _writing_name(table))  # a replacing write's partial table
        raise
    finally:
        _leave_wal_mode(conn)
        conn.close()


#: Page size of the files ``write_sqlite`` creates (SQLite's default is 4096).
PAGE_BYTES = 16384

#: Prefix of the table a replacing ``write_sqlite`` fills before the swap.
WRITING_PREFIX = "_skimb_writing_"


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
    uri = f"file:{quote(os.path.abspath(path))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    try:
        with _transaction(conn):  # the first read rolls a hot journal back
            _drop_leftovers(conn)
    finally:
        conn.close()


def _open_error(path, table, error):
    """The error to raise when ``path`` cannot be read, saying why and what to do."""
    valid = (
        f"SQLiteDataset expects a SQLite file holding table {table!r}, with a "
        "float32 BLOB (or numeric) feature column and an integer label column, as "
        "skimb.data.write_sqlite writes"
    )
    journal = Path(path + "-journal")
    if "readonly" in str(error) and journal.exists() and journal.stat().st_size:
        return RuntimeError(
            f"{path!r} cannot be read: a write to it was interrupted and left the hot "
            f"rollback journal {str(journal)!r}, which a read-only connection cannot "
            "roll back. Nothing is lost: run skimb.data.recover_sqlite(path) once "
            "(or open the file read-write with any SQLite tool) to restore its last "
            f"committed state ({error})"
        )
    return ValueError(
        f"{path!r} cannot be read as a SQLite database ({error}). {valid}"
    )


def _writing_name(table):
    return WRITING_PREFIX + str(table)


def _drop_quietly(conn, table):
    try:
        conn.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
    except sqlite3.Error:
        pass  # the next write_sqlite drops it


def _drop_leftovers(conn):
    """Drop tables that crashed replacing writes left behind."""
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ? ESCAPE '\\'",
        (WRITING_PREFIX.replace("_", "\\_") + "%",),
    ).fetchall()
    for (name,) in names:
        conn.execute(f"DROP TABLE {_quote(name)}")


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


def _insert(conn, table, X_chunk, y_chunk):
    conn.executemany(
        f"INSERT INTO {_quote(table)} (features, label) VALUES (?, ?)",
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


def _prepare_table(conn, table, if_exists):
    """Create the table to write into and return its name."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    if exists and if_exists == "fail":
        raise ValueError(
            f"table {table!r} already exists; pass if_exists='replace' or 'append'"
        )
    target = _writing_name(table) if exists and if_exists == "replace" else table
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_quote(target)} "
        "(id INTEGER PRIMARY KEY, features BLOB NOT NULL, label INTEGER NOT NULL)"
    )
    return target


def _existing_feature_count(conn, table):
    row = conn.execute(
        f"SELECT length(features) FROM {_quote(table)} LIMIT 1"
    ).fetchone()
    return None if row is None else row[0] // 4


def _read_column(cursor):
    """The first column of a query's rows as an int64 array, read in blocks."""
    parts = []
    while block := cursor.fetchmany(65536):
        parts.append(np.fromiter((r[0] for r in block), np.int64, len(block)))
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _quote(name):
    return '"' + str(name).replace('"', '""') + '"'
