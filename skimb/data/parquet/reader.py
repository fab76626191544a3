"""Reads of Parquet read units through handles opened per thread and process."""

import os
import threading
import warnings

import numpy as np
import torch

from ..lazy_rows import PerThreadReader
from ..sqlite.labels import label_dtype
from .layout import UNIT_ROWS, open_file, pyarrow_parquet

#: Bytes pyarrow reads from a column chunk at a time when it streams a large row
#: group (0 would read each column chunk whole: the whole row group, compressed).
STREAM_BUFFER = 1 << 20


class ParquetReader(PerThreadReader):
    """Read-only access to the files of a :class:`~.layout.Layout`: a read unit's
    columns at a time, decoded once.

    Files are opened lazily in each thread and process (a forked DataLoader or
    joblib worker opens its own); it pickles as its layout. A large row group is
    streamed a slice at a time by a cursor that moves forward (asking for an
    earlier slice starts it again): the block-shuffled order asks for them in
    order.

    Attributes
    ----------
    units_read : int
        Read units decoded by this process (features, frames or counts): what a
        pass over the data costs, and what tests count.
    encoding : TableEncoder or None
        A fitted table encoding that turns the feature columns into the model's
        float32 inputs, or None: read as numbers.
    """

    def __init__(self, layout):
        self.layout = layout
        self.local = threading.local()
        self.units_read = 0
        self.encoding = None

    def _handles(self):
        local = self.local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or forked
            local.files, local.cursors, local.pid = {}, {}, os.getpid()
            local.group = None
        return local

    def _file(self, path):
        files = self._handles().files
        if path not in files:
            files[path] = open_file(
                pyarrow_parquet(), path, buffer_size=STREAM_BUFFER, pre_buffer=False
            )
        return files[path]

    # -- units -------------------------------------------------------------------
    def read_table(self, unit, columns, threads=False):
        """The ``columns`` of read unit ``unit`` as a pyarrow Table.

        Decoded on this thread unless ``threads``: on pyarrow's pool, for the
        passes before training, when nothing else runs (8.5 -> 5.0 ms a unit on 2
        cores). During training the pool decoded faster too, but the fit was not
        measurably faster (docs/parquet.md#speed-and-memory), and its threads
        would compete with torch's and with other workers' for the cores."""
        self.units_read += 1
        spec = self.layout.units[unit]
        handle = self._file(spec.file)
        if spec.part is None:
            return handle.read_row_groups(
                spec.row_groups, columns=columns, use_threads=threads
            )
        if spec.group_rows <= WHOLE_GROUP_ROWS:
            return self._from_group(handle, spec, columns, threads)
        return self._slice(handle, spec, columns, threads)

    def _from_group(self, handle, spec, columns, threads):
        """Slice ``spec.part`` of a row group read whole, kept decoded by this
        thread until it asks for another: the block-shuffled order reads the
        slices of one row group together (one lane each)."""
        local = self._handles()
        key = (spec.file, spec.row_groups[0], tuple(columns))
        kept = local.group
        if kept is None or kept[0] != key:
            local.group = None  # let the last one go before decoding the next
            table = handle.read_row_groups(
                spec.row_groups, columns=columns, use_threads=threads
            )
            kept = local.group = (key, table)
        return kept[1].slice(spec.part * UNIT_ROWS, spec.n_rows)

    def _slice(self, handle, spec, columns, threads):
        """Slice ``spec.part`` of a large row group, from this thread's cursor on it
        (one per row group and columns)."""
        import pyarrow as pa

        cursors = self._handles().cursors
        key = (spec.file, spec.row_groups[0], tuple(columns))
        cursor = cursors.pop(key, None)
        if cursor is None or cursor[1] > spec.part:
            batches = handle.iter_batches(
                batch_size=UNIT_ROWS,
                row_groups=spec.row_groups,
                columns=columns,
                use_threads=threads,
            )
            cursor = [batches, 0]
        batches = cursor[0]
        while cursor[1] < spec.part:
            next(batches)
            cursor[1] += 1
        batch = next(batches)
        cursor[1] += 1
        if not spec.last:  # a spent cursor would hold its buffers for nothing
            cursors[key] = cursor
        while len(cursors) > CURSORS:  # the oldest first (dicts keep their order)
            cursors.pop(next(iter(cursors)))
        return pa.Table.from_batches([batch])

    def read_features(self, unit, threads=False, into=None, offsets=None):
        """Float32 features of read unit ``unit`` (NaN for nulls), row-major,
        through the encoding when there is one (``threads`` as for
        :meth:`read_table`); written into ``into`` when given (see
        :func:`as_matrix`). ``offsets``: those rows of the unit alone, taken
        before they are converted (a pass that needs a few rows of each unit)."""
        table = self.read_table(unit, self.layout.columns, threads)
        if offsets is not None:
            table = table.take(offsets)
        if self.encoding is None:
            return as_matrix(table, self.layout, into)
        features = self.encoding.transform(table.to_pandas())
        if into is None:
            return features
        into[: len(features)] = features
        return into[: len(features)]

    def read_labels(self):
        """Every row's label, read from the label column alone."""
        pq = pyarrow_parquet()
        parts = []
        for file in self.layout.files:
            column = pq.read_table(file, columns=[self.layout.label]).column(0)
            if column.null_count:
                raise ValueError(
                    f"the label column {self.layout.label!r} of {file!r} holds "
                    f"{column.null_count} null(s); every row needs a label"
                )
            parts.append(column.to_numpy())
        return compact_labels(np.concatenate(parts))


#: Row groups up to this many rows are read whole (a streaming cursor costs more
#: to start than it saves), their slices taken from the decoded table.
WHOLE_GROUP_ROWS = 4 * UNIT_ROWS

#: Cursors over large row groups a thread keeps open (each holds a page of every
#: column it reads).
CURSORS = 8


def as_matrix(table, layout, into=None):
    """The columns of a pyarrow Table as one row-major float32 array (NaN for
    nulls), written into ``into`` (an array of at least ``table.num_rows`` rows,
    such as a block cache's slot) when given; text raises an error saying how
    categories are read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for j, column in enumerate(table.columns):
        try:
            values = pc.cast(column, pa.float32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValueError(
                f"column {table.column_names[j]!r} of {layout.files[0]!r} holds "
                f"{column.type} values: categorical columns are encoded by a fit "
                "(ImbalancedNetClassifier(categorical='auto')); "
                "ParquetDataset.read_frame(rows) reads their values"
            ) from None
        columns.append(values.to_numpy(zero_copy_only=False))
    if into is None:
        # Allocated by torch, not NumPy, for the reason the block cache's slab is
        # (NumPy asks for huge pages, whose compaction stalled the first writes).
        X = torch.empty((table.num_rows, table.num_columns), dtype=torch.float32)
    else:
        X = torch.from_numpy(into[: table.num_rows])
    with warnings.catch_warnings():
        # Arrow's buffers are read-only; torch only reads them here.
        warnings.simplefilter("ignore", UserWarning)
        # One interleaving copy, column arrays to rows (torch's stack along the
        # second dimension: 2 ms a unit of 65,536 x 64, against 7 ms through a
        # column-major array transposed into the cache).
        torch.stack([torch.from_numpy(c) for c in columns], dim=1, out=X)
    return X.numpy()


def compact_labels(labels):
    """Integer labels in the smallest integer type that holds them (``int8`` for
    0/1, as a SQLite table's: memory per row counts on millions of rows), others
    as they are."""
    if labels.dtype == bool:
        return labels.astype(np.int8)
    if labels.dtype.kind in "iu" and labels.size:
        return labels.astype(label_dtype(int(labels.min()), int(labels.max())))
    return labels
