"""The lazy, read-only torch Dataset over one SQLite table, and its views."""

import hashlib
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from ..block_cache import HeldRows
from ..index import chunk_bounds
from ..lazy_rows import LazyRows, check_cache_mib
from . import cache
from .labels import ids_between, read_ids_and_labels
from .reader import TableReader, id_runs

# Rows read by key per query: under SQLite's default limit on host parameters per
# statement (32766 since 3.32), and few enough that the Python object a query
# returns per row (~3x the row's bytes while decoded) stays a few MiB.
KEY_READ_ROWS = 4096


class SQLiteDataset(LazyRows, Dataset):
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

    A dataset is a snapshot: the rows in the table when it was opened. Rows another
    process appends later (``write_sqlite(..., if_exists="append")``) are never
    read by it, its views or its pickles (a Dask worker's copy), so a fit sees
    one length and whole chunks only; :meth:`reopened` opens the table again with
    them.

    Parameters
    ----------
    path : str or Path
        The SQLite file. It must exist.
    table : str, default="data"
        The table to read.
    features : None, str or list of str, default=None
        ``None``: every column but ``label`` and the row id (one BLOB column is read as
        float32 vectors, otherwise the columns are the features); a str: one BLOB
        column of float32 vectors; a list: columns, in that order. NULL values read
        as missing (NaN); the classifier imputes them.
    label : str, default="label"
        The label column.
    categorical : "auto", list of str, or None, default="auto"
        Which feature columns hold categories: ``"auto"``, those of TEXT affinity
        (a declared type with CHAR, CLOB or TEXT, as ``write_sqlite`` writes a
        DataFrame's categories); the classifier's fit learns their vocabularies on
        its training rows with a streamed pass and reads them as codes
        (:meth:`encoded_by`).
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
        blocks the cache kept from the last one, so a larger cache saves rereads in
        proportion, for more peak memory (``benchmarks/bench_sqlite_defaults.py
        --cache-mib`` measures the trade).

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_features)`` of the selected rows.
    labels : ndarray
        Every selected row's label, read without touching the features; integer
        labels in the smallest integer type that holds both values (``int8`` for
        0/1), as memory per row counts on tables of millions of rows.
    reader : skimb.data.sqlite.reader.TableReader
        The table's schema and this thread's read-only connections.
    categorical_columns : list of str
        The feature columns read as categories.
    encoding : TableEncoder or None
        The encoding rows are decoded with (:meth:`encoded_by`), else None.

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
    #: ``__getitems__`` takes index arrays and slices.
    accepts_index_arrays = True

    def __init__(
        self,
        path,
        table="data",
        features=None,
        label="label",
        categorical="auto",
        *,
        cache_mib=64,
    ):
        self.path = str(path)
        self.table = table
        self.features = features
        self.label = label
        self.categorical = categorical
        self.cache_mib = cache_mib
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"no SQLite file at {self.path!r}")
        check_cache_mib(cache_mib)
        self._positions = None  # None: every row, in primary-key order
        self._held = None
        self._all_ids = self._all_labels = None
        self._cache = None
        self.reader = TableReader(self.path, table, features, label)
        self.n_features = self.reader.schema.n_features
        self.categorical_columns = self._categorical_columns(categorical)

    def _categorical_columns(self, categorical):
        schema = self.reader.schema
        if categorical is None:
            return []
        if isinstance(categorical, str) and categorical == "auto":
            return schema.text_columns()
        if isinstance(categorical, str) or not hasattr(categorical, "__iter__"):
            raise ValueError(
                f"categorical={categorical!r} is not one of 'auto', None, or a list "
                "of column names"
            )
        unknown = [c for c in categorical if c not in schema.feature_columns]
        if unknown or schema.blob_column is not None:
            raise ValueError(
                f"categorical column(s) {unknown or list(categorical)} are not "
                f"feature columns of table {self.table!r} in {self.path!r}; they are "
                f"{schema.feature_columns}"
            )
        return [c for c in schema.feature_columns if c in set(categorical)]

    @property
    def is_table(self):
        """Whether rows are columns of their own (numbers with NULLs, categories),
        which a fit encodes (:meth:`encoded_by`), rather than float32 vectors."""
        return self.reader.schema.blob_column is None and self.encoding is None

    def read_frame(self, rows):
        """The feature values of these rows (positions, any order) as a pandas
        DataFrame, as the table holds them (``None``/NaN for NULL)."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self._ids_of(rows)
        unique, inverse = np.unique(ids, return_inverse=True)
        columns = self.reader.schema.feature_columns
        values = self.reader.read_values(unique, columns)
        frame = pd.DataFrame.from_records(values, columns=columns, nrows=len(values))
        return frame.iloc[inverse].reset_index(drop=True)

    def category_counts(self, rows=None):
        """Per categorical column, a ``pandas.Series`` of how many of these rows
        (positions; None: all) hold each category, counted by SQLite: ``GROUP BY``
        over the runs of their ids, less the few rows inside a run that were not
        asked for (the training rows of a split are long runs with a few gaps):
        one scan per column in SQLite, not a Python object per value."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, np.int64)
        ids = np.unique(self._ids_of(rows))
        names = self.categorical_columns
        counts = [Counter() for _ in names]
        all_ids = self._load_ids_and_labels()[0]
        for first, last in id_runs(ids, span=None):
            low, high = int(ids[first]), int(ids[last - 1])
            for j, name in enumerate(names):
                counts[j].update(dict(self.reader.count_values(name, low, high)))
            left_out = np.setdiff1d(
                ids_between(all_ids, low, high), ids[first:last], assume_unique=True
            )
            for values in self.reader.read_values(left_out, names):
                for j, value in enumerate(values):
                    if value is not None:
                        counts[j][value] -= 1
        return [
            pd.Series({v: n for v, n in c.items() if n > 0}, dtype="int64")
            for c in counts
        ]

    def _ids_of(self, rows):
        positions = rows if self._positions is None else self._positions[rows]
        return self._load_ids_and_labels()[0][positions]

    def __getstate__(self):
        state = self.__dict__.copy()
        # The id/label columns are re-read lazily in the new process.
        state.update(_held=None, _all_ids=None, _all_labels=None, _cache=None)
        return state

    # -- ids and labels ----------------------------------------------------------
    def _load_ids_and_labels(self):
        if self._all_ids is None:
            self._all_ids, self._all_labels = read_ids_and_labels(self.reader)
        return self._all_ids, self._all_labels

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
            return self.reader.count_rows()
        return len(self._all_ids)

    # -- indexing ----------------------------------------------------------------
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
        for first, last in chunk_bounds(len(rest), size=KEY_READ_ROWS):
            chunk = rest[first:last]
            X[chunk] = self.reader.read_features(ids[positions[chunk]])
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
            self._held = HeldRows(positions, features, n_table_rows)

    # -- block cache -------------------------------------------------------------
    def cache_blocks(self):
        """How many blocks of ``BLOCK_ROWS`` rows the block cache holds at most (0
        with ``cache_mib=0``): samplers that know it can start an epoch with the
        blocks the last one left in the cache."""
        if not self.cache_mib > 0:
            return 0
        return cache.capacity(self.cache_mib, self.n_features, self._n_blocks())

    def _n_blocks(self):
        """Blocks of ``BLOCK_ROWS`` rows the table is cut into."""
        return -(-len(self._load_ids_and_labels()[0]) // cache.BLOCK_ROWS)

    def _fill_from_blocks(self, positions, X, skip=None, by_key=False):
        """Fill the rows of X that the block cache can serve
        (:meth:`BlockCache.fill`); return the rows it cannot, other than those in
        ``skip`` (a mask, or None). ``by_key``: the cache is left out, and every
        row not skipped is returned."""
        block_cache = None if by_key else self._block_cache()
        if block_cache is None:
            every = np.arange(len(positions))
            return every if skip is None else every[~skip]
        passing = getattr(self.reader.local, "passing", False)
        return block_cache.fill(positions, X, self.read_block, skip, passing)

    def _block_cache(self):
        if self._cache is not None and self._cache.pid != os.getpid():
            self._cache = None  # a forked process: its own cache, and lock
        if self._cache is None:
            capacity = self.cache_blocks()
            if capacity >= 1:
                self._cache = cache.BlockCache(
                    self._n_blocks(), capacity, self.n_features
                )
        return self._cache

    def read_block(self, block):
        """Features of the table's block ``block`` (rows ``[block * BLOCK_ROWS,
        (block + 1) * BLOCK_ROWS)`` in primary-key order), read whole from the file
        with one range query; the block cache calls it for each block it reads."""
        ids = self._load_ids_and_labels()[0]
        first = block * cache.BLOCK_ROWS
        last = min((block + 1) * cache.BLOCK_ROWS, len(ids)) - 1
        return self.reader.read_range(ids[first : last + 1])

    def fingerprint(self):
        """A digest of what a fit reads from these rows, without reading them all:
        the file, table and columns, the rows selected, their labels, and the
        features of the first and last blocks (a checkpoint is refused when it
        changes, :mod:`skimb.checkpoints`)."""
        digest = hashlib.blake2b(digest_size=20)
        described = (
            os.path.abspath(self.path),
            self.table,
            self.features,
            self.label,
            self.categorical_columns,
            self.reader.last_id,
            len(self),
        )
        digest.update(repr(described).encode())
        for array in (self.storage_positions(), self.labels):
            digest.update(np.ascontiguousarray(array).tobytes())
        n_blocks = self._n_blocks()
        for block in sorted({0, n_blocks - 1} if n_blocks else ()):
            digest.update(np.ascontiguousarray(self.read_block(block)).tobytes())
        return digest.hexdigest()

    def reopened(self):
        """The same table opened anew, with the same parameters: a dataset holding
        the rows appended since this one was opened (which keeps its own)."""
        return type(self)(
            self.path,
            self.table,
            self.features,
            self.label,
            self.categorical,
            cache_mib=self.cache_mib,
        )

    def rows_appended(self):
        """How many rows the table has gained since this dataset was opened (one
        ``COUNT(*)`` query): :meth:`reopened` reads them."""
        return self.reader.rows_now() - self.reader.count_rows()

    def __repr__(self):
        return (
            f"SQLiteDataset({self.path!r}, table={self.table!r}, "
            f"features={self.features!r}, label={self.label!r}, "
            f"categorical={self.categorical!r}) with "
            f"{len(self)} rows"
        )
