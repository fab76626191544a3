"""The lazy, read-only torch Dataset over Parquet files, and its views."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from .. import block_cache
from ..block_cache import HeldRows
from ..index import ReadUnits, stored_positions
from ..lazy_rows import LazyRows, check_cache_mib
from .layout import UNIT_ROWS, read_layout
from .reader import ParquetReader

#: MiB of decoded read units a dataset caches by default: 8 units of 64 float32
#: columns (1.27x the in-memory fit at 1,000,000 rows against 1.39x at 64 MiB,
#: ``benchmarks/bench_parquet_cache.py``).
DEFAULT_CACHE_MIB = 128


class ParquetDataset(LazyRows, Dataset):
    """Rows of one Parquet file, or a folder of them, as ``(x, y)`` pairs, read
    lazily.

    The contract of :class:`~skimb.data.SQLiteDataset` over Parquet: ``len(ds)``,
    ``ds.shape``, ``ds.labels`` (read from the label column alone), ``ds[rows]``
    with an int array, a list, a slice or a boolean mask (also ``ds[rows, ...]``)
    returns a view reading no data, so scikit-learn's splitters,
    ``cross_val_score(clf, ds, ds.labels)`` and ``GridSearchCV`` work on it; it
    pickles as its path and row selection, and each process (DataLoader or joblib
    worker) opens its own file handles. Files are only ever read.

    Rows are read a *read unit* at a time: row groups of up to ``UNIT_ROWS``
    (65,536) rows whole (consecutive smaller ones together), larger ones in
    slices of that size, with only the feature columns read, decoded once into
    the block cache. The classifier block-shuffles it unit by unit
    (:class:`~skimb.samplers.BlockShuffleSampler` reads the units from
    :meth:`storage_positions`), so an epoch decodes each unit about once.

    Parameters
    ----------
    path : str or Path
        A Parquet file, or a folder whose ``*.parquet`` files (recursively, hidden
        and ``_``-prefixed ones left out) are read in name order, with the same
        columns.
    features : None, or list of str, default=None
        The feature columns, in order; ``None``: every column but ``label``.
    label : str, default="label"
        The label column.
    categorical : "auto", list of str, or None, default="auto"
        Which feature columns hold categories: ``"auto"``, the string,
        dictionary-encoded and boolean ones (as a DataFrame's ``category``,
        ``object``, ``string`` and ``bool`` columns). With categories, or nulls in
        a feature column, the dataset is a table (:attr:`is_table`): a fit learns
        its encoding from streamed passes (:meth:`read_frame`,
        :meth:`category_counts`) and reads it through it (:meth:`encoded_by`).
    cache_mib : float, default=128
        Memory for the block cache of decoded read units (per dataset object and
        process); ``0`` turns it off (every batch then decodes its units). Twice
        SQLite's default: a read unit is 65,536 rows (16 MiB at 64 float32
        columns), and the block shuffle mixes half as many units at a time as the
        cache holds (4 at 128 MiB, 2 at 64); chosen by
        ``benchmarks/bench_parquet_cache.py``.

    Attributes
    ----------
    shape : tuple of int
    labels : ndarray
        Every selected row's label; integers in the smallest integer type that
        holds them (``int8`` for 0/1).
    files : list of str
        The Parquet files read.
    reader : skimb.data.parquet.reader.ParquetReader
        The layout and this process's file handles; ``reader.units_read`` counts
        the read units decoded.
    categorical_columns : list of str
    encoding : TableEncoder or None
    """

    #: Reads fastest in storage order: the classifier block-shuffles it by default.
    reads_in_blocks = True
    #: ``__getitems__`` takes index arrays and slices.
    accepts_index_arrays = True

    def __init__(
        self,
        path,
        features=None,
        label="label",
        categorical="auto",
        *,
        cache_mib=DEFAULT_CACHE_MIB,
    ):
        self.path = str(path)
        self.features = features
        self.label = label
        self.categorical = categorical
        self.cache_mib = cache_mib
        check_cache_mib(cache_mib)
        layout = read_layout(self.path, features, label)
        self.reader = ParquetReader(layout)
        self.files = layout.files
        self.categorical_columns = self._categorical_columns(categorical)
        self.n_features = len(layout.columns)
        self._positions = None  # None: every row, in file order
        self._labels = self._held = self._cache = None
        self._kept_after = None  # what let_go_for_now keeps of the held rows

    def _categorical_columns(self, categorical):
        import pyarrow as pa

        layout = self.reader.layout
        if categorical is None:
            return []
        if isinstance(categorical, str) and categorical == "auto":
            return [
                c
                for c, t in layout.types.items()
                if pa.types.is_dictionary(t)
                or pa.types.is_string(t)
                or pa.types.is_large_string(t)
                or pa.types.is_boolean(t)
            ]
        if isinstance(categorical, str) or not hasattr(categorical, "__iter__"):
            raise ValueError(
                f"categorical={categorical!r} is not one of 'auto', None, or a list "
                "of column names"
            )
        unknown = [c for c in categorical if c not in layout.columns]
        if unknown:
            raise ValueError(
                f"categorical column(s) {unknown} are not feature columns of "
                f"{self.path!r}; they are {layout.columns}"
            )
        return [c for c in layout.columns if c in set(categorical)]

    # -- tables ------------------------------------------------------------------
    @property
    def is_table(self):
        """Whether a fit encodes the rows (categories, or nulls in a feature
        column), as it encodes such a DataFrame in memory (:meth:`encoded_by`)."""
        layout = self.reader.layout
        has_gaps = bool(self.categorical_columns or layout.may_be_null)
        return self.encoding is None and has_gaps

    def read_frame(self, rows):
        """The feature values of these rows (positions, any order) as a pandas
        DataFrame, as the files hold them (dictionary columns as ``category``)."""
        return self._frame(np.asarray(rows, dtype=np.int64), self.reader.layout.columns)

    def category_counts(self, rows=None):
        """Per categorical column, a ``pandas.Series`` of how many of these rows
        (positions; None: all) hold each category, counted a read unit at a time
        from those columns alone."""
        names = self.categorical_columns
        counts = [pd.Series(dtype="int64") for _ in names]
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, np.int64)
        for unit, offsets in self._by_unit(self._file_rows(rows)):
            table = self.reader.read_table(unit, names, threads=True).take(offsets)
            for j in range(len(names)):
                found = table.column(j).to_pandas().value_counts(dropna=True)
                found.index = found.index.astype(object)
                counts[j] = counts[j].add(found, fill_value=0)
        return [c.astype("int64") for c in counts]

    def _frame(self, rows, columns):
        file_rows = self._file_rows(rows)
        order = np.argsort(file_rows, kind="stable")
        parts = [
            self.reader.read_table(unit, columns, threads=True)
            .take(offsets)
            .to_pandas()
            for unit, offsets in self._by_unit(file_rows[order])
        ]
        frame = pd.concat(parts, ignore_index=True) if parts else None
        if frame is None:
            return pd.DataFrame(columns=columns)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return frame.iloc[inverse].reset_index(drop=True)

    def _by_unit(self, file_rows):
        """``(unit, offsets in it)`` of these ascending row numbers over all files."""
        first = self.reader.layout.unit_first
        unit = np.searchsorted(first, file_rows, side="right") - 1
        bounds = np.flatnonzero(np.diff(unit)) + 1
        for chunk in np.split(np.arange(len(file_rows)), bounds):
            if chunk.size:
                u = int(unit[chunk[0]])
                yield u, file_rows[chunk] - first[u]

    # -- labels and views --------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_held=None, _kept_after=None, _labels=None, _cache=None)
        return state

    def _all_labels(self):
        if self._labels is None:
            self._labels = self.reader.read_labels()
        return self._labels

    @property
    def labels(self):
        labels = self._all_labels()
        return labels if self._positions is None else labels[self._positions]

    @property
    def shape(self):
        return (len(self), self.n_features)

    def __len__(self):
        if self._positions is not None:
            return len(self._positions)
        return self.reader.layout.n_rows

    def _file_rows(self, rows):
        return rows if self._positions is None else self._positions[rows]

    def storage_positions(self, rows=None):
        """Stored position of each row of this view (or of its rows ``rows``):
        read unit ``u``'s rows from ``u * UNIT_ROWS``. They carry the read units
        (:class:`~skimb.data.index.StoredPositions`), so that the samplers visit
        the blocks unit by unit, ``lanes`` units at a time (half of what the block
        cache holds)."""
        every = np.arange(len(self)) if rows is None else np.asarray(rows)
        positions = self.reader.layout.positions(self._file_rows(every))
        layout = self.reader.layout.read_units
        units = ReadUnits(layout.unit_rows, layout.stream_starts, self._lanes())
        return stored_positions(positions, units)

    # -- reading -----------------------------------------------------------------
    def _fetch(self, indices, by_key=False):
        """Features (float32, 2-d) and labels of the rows at these positions
        (``by_key``: the block cache left out, for the pass before training, whose
        units are decoded on pyarrow's threads)."""
        labels = self._all_labels()
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        indices = np.where(indices < 0, indices + n, indices)
        file_rows = self._file_rows(indices)
        positions = self.reader.layout.positions(file_rows)
        # Allocated by torch, as the block cache's slab (NumPy asks for huge pages
        # for large arrays: the pass before training fills ~35 MB at 1M rows).
        X = torch.empty((len(positions), self.n_features), dtype=torch.float32)
        X = X.numpy()
        held = None if self._held is None else self._held.holds(positions)
        cache = None if by_key else self._block_cache()
        if cache is None:
            rest = np.flatnonzero(~held) if held is not None else np.arange(len(X))
        else:
            passing = getattr(self.reader.local, "passing", False)
            rest = cache.fill(positions, X, self.read_block, held, passing)
        if held is not None:
            self._held.fill(positions, X, held)
        if len(rest):  # units the cache could not keep: read, not kept
            order = rest[np.argsort(file_rows[rest], kind="stable")]
            in_order = not np.any(order[1:] <= order[:-1])  # X's rows in file order
            done = 0
            for unit, offsets in self._by_unit(file_rows[order]):
                here = order[done : done + len(offsets)]
                if by_key:  # a few rows of each unit, once: those rows converted
                    rows = self.reader.read_features(unit, True, offsets=offsets)
                    if in_order and here[-1] - here[0] + 1 == len(here):
                        X[here[0] : here[-1] + 1] = rows  # a run: no scatter
                    else:
                        X[here] = rows
                else:
                    X[here] = self.read_block(unit)[offsets]
                done += len(offsets)
        return X, labels[file_rows]

    def read_block(self, unit, threads=False, into=None):
        """Features of read unit ``unit``, decoded whole; the block cache calls it
        for each unit it reads, with its slot as ``into`` (decoded straight into
        it). ``threads``: on pyarrow's threads, for passes outside training; see
        :meth:`ParquetReader.read_table`.

        The last unit decoded is kept, per thread: a pass in row order that the
        cache does not keep (a validation split too large to hold, read through
        :meth:`passing_through`; a streamed ``predict_proba``) then decodes each
        unit once, not once for every batch that falls in it (a unit spans a
        hundred batches; at 4 million rows this was most of a fit's time)."""
        local = self.reader.local
        if into is not None:  # the cache keeps it: nothing to keep here
            local.last_unit = None
            return self.reader.read_features(unit, threads, into)
        last = getattr(local, "last_unit", None)
        if last is not None and last[0] == unit and last[1] is self.reader.encoding:
            return last[2]
        features = self.reader.read_features(unit, threads)
        local.last_unit = (unit, self.reader.encoding, features)
        return features

    def hold_rows(self, rows, for_now=None):
        """Read these rows now (a pass over the units that hold them) and keep them
        decoded for the rest of this object's life, or until the next call
        (``None`` lets them go): the training positives, which the block shuffle
        spreads over every epoch (see :meth:`SQLiteDataset.hold_rows`).

        ``for_now``: other rows read in the same pass and held until
        :meth:`let_go_for_now` (the scaling sample, which also touches every
        unit: two passes decoded the file twice before the first epoch)."""
        self._held = self._kept_after = None
        if rows is not None:
            rows = np.unique(np.asarray(rows, dtype=np.int64))
        if for_now is not None:
            kept = np.asarray([] if rows is None else rows, np.int64)
            rows = np.union1d(kept, np.asarray(for_now, np.int64))
            stored = self.reader.layout.positions(self._file_rows(kept))
            self._kept_after = np.sort(stored)
        if rows is not None:
            self._hold(rows)

    def let_go_for_now(self):
        """Keep only the rows :meth:`hold_rows` held for good (no reads)."""
        if self._kept_after is not None:
            kept = self._kept_after
            self._held = self._held.narrowed(kept) if kept.size else None
            self._kept_after = None

    def _hold(self, rows):
        """Hold these rows (unique, ascending)."""
        features = self._fetch(rows, by_key=True)[0]
        positions = self.reader.layout.positions(self._file_rows(rows))
        if np.any(positions[1:] < positions[:-1]):
            order = np.argsort(positions)
            positions, features = positions[order], features[order]
        n_positions = len(self.reader.layout.units) * UNIT_ROWS
        self._held = HeldRows(positions, features, n_positions)

    # -- block cache -------------------------------------------------------------
    def _capacity(self):
        """Read units the block cache holds at most."""
        units = len(self.reader.layout.units)
        return block_cache.capacity(self.cache_mib, self.n_features, units, UNIT_ROWS)

    def _lanes(self):
        """Read units the block-shuffled order reads from at once: half the cache,
        which holds twice as many while the order moves on to the next ones."""
        return max(1, self._capacity() // 2)

    def cache_blocks(self):
        """How many blocks of ``BLOCK_ROWS`` (256) rows of the last epoch the block
        cache still holds for the next: the rows of its read units but those the
        next epoch's first units need (counted in the samplers' blocks, which
        open an epoch with as many of them, ``reuse_blocks``)."""
        layout = self.reader.layout
        rows_per_unit = layout.n_rows / len(layout.units)
        spare = max(self._capacity() - self._lanes(), 0)
        return int(spare * rows_per_unit // block_cache.BLOCK_ROWS)

    def _block_cache(self):
        if self._cache is not None and self._cache.pid != os.getpid():
            self._cache = None  # a forked process: its own cache, and lock
        if self._cache is None:
            capacity = self._capacity()
            if capacity >= 1:
                self._cache = block_cache.BlockCache(
                    len(self.reader.layout.units),
                    capacity,
                    self.n_features,
                    block_rows=UNIT_ROWS,
                    dense_rows=1,  # no reads by row: a unit is read whole
                    reads_into_slots=True,
                )
        return self._cache

    def fingerprint(self):
        """A digest of what a fit reads from these rows without reading them all:
        the files (path, size, modification time), the columns, the rows selected
        and their labels (a checkpoint is refused when it changes)."""
        digest = hashlib.blake2b(digest_size=20)
        files = [
            (os.path.abspath(f), Path(f).stat().st_size, Path(f).stat().st_mtime_ns)
            for f in self.files
        ]
        described = (files, self.reader.layout.columns, self.label, len(self))
        digest.update(repr(described).encode())
        for array in (np.asarray(self.storage_positions()), self.labels):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def __repr__(self):
        return (
            f"ParquetDataset({self.path!r}, features={self.features!r}, "
            f"label={self.label!r}, categorical={self.categorical!r}) with "
            f"{len(self)} rows"
        )
