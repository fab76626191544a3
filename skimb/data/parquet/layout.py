"""The files of a Parquet dataset, their columns, and their row groups cut into
read units: the blocks the block cache and the block shuffle work with."""

from pathlib import Path

import numpy as np

from ..index import ReadUnits

#: Rows of a read unit at most (a power of two: the block cache's blocks). Row
#: groups up to it are read whole, consecutive small ones together; a larger row
#: group (pyarrow writes 1,048,576 rows by default) is streamed in slices of it.
UNIT_ROWS = 2**16

VALID = (
    "ParquetDataset expects a Parquet file (or a folder of them, read in name order) "
    "with the same columns in each: a label column and numeric, boolean, string or "
    "dictionary-encoded feature columns, as pyarrow.parquet.write_table, pandas' "
    "to_parquet, polars, Spark or Dask write them"
)


def pyarrow_parquet():
    """``pyarrow.parquet``, or an ImportError saying how to install it."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            'ParquetDataset reads Parquet with pyarrow: pip install "skimb[parquet]" '
            "(or pip install pyarrow)"
        ) from error
    return pq


def parquet_files(path):
    """The Parquet files at ``path`` (a file, or a folder searched recursively,
    hidden and ``_``-prefixed files such as Spark's ``_SUCCESS`` left out), in
    name order."""
    root = Path(path)
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise FileNotFoundError(f"no Parquet file or folder at {str(path)!r}")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
        and p.suffix in (".parquet", ".parq", ".pq")
    )
    if not files:
        raise FileNotFoundError(
            f"no Parquet files (*.parquet) in the folder {str(path)!r}. {VALID}"
        )
    return [str(p) for p in files]


class Unit:
    """Rows read together: ``row_groups`` of ``file`` whole, or (``part`` not
    None) the ``part``-th slice of ``UNIT_ROWS`` rows of one large row group
    of ``group_rows`` rows (``last``: its last slice)."""

    def __init__(self, file, row_groups, n_rows, part=None, group_rows=None):
        self.file, self.row_groups, self.n_rows = file, row_groups, n_rows
        self.part, self.group_rows = part, group_rows
        self.last = part is not None and part * UNIT_ROWS + n_rows == group_rows


class Layout:
    """The files, the feature and label columns, and the read units.

    Attributes
    ----------
    files : list of str
    columns : list of str
        Feature columns, in order.
    label : str
    types : dict
        The pyarrow type of each feature column.
    units : list of Unit
    unit_first : ndarray of int64
        The row number (over all files) of each unit's first row, then the total.
    read_units : skimb.data.index.ReadUnits
        Units of ``UNIT_ROWS`` stored positions and their streams, for the samplers.
    may_be_null : list of str
        Feature columns whose statistics do not rule out nulls.
    """

    def __init__(self, files, columns, label, types, units, may_be_null):
        self.files, self.columns, self.label, self.types = files, columns, label, types
        self.units, self.may_be_null = units, may_be_null
        sizes = np.array([u.n_rows for u in units], dtype=np.int64)
        self.unit_first = np.concatenate([[0], np.cumsum(sizes)])
        streams = [i for i, u in enumerate(units) if u.part in (None, 0)]
        self.read_units = ReadUnits(UNIT_ROWS, streams, lanes=1)

    @property
    def n_rows(self):
        return int(self.unit_first[-1])

    def positions(self, rows):
        """Stored position of each of these rows (row numbers over all files): unit
        ``u``'s rows start at ``u * UNIT_ROWS``."""
        rows = np.asarray(rows, dtype=np.int64)
        unit = np.searchsorted(self.unit_first, rows, side="right") - 1
        return unit * UNIT_ROWS + (rows - self.unit_first[unit])


def open_file(pq, file, **options):
    """``pq.ParquetFile(file)``, or a ValueError naming the file and what is valid."""
    try:
        return pq.ParquetFile(file, **options)
    except (OSError, ValueError) as error:  # ArrowInvalid is a ValueError
        raise ValueError(
            f"{file!r} cannot be read as a Parquet file ({error}). {VALID}"
        ) from None


def read_layout(path, features, label):
    """The :class:`Layout` of the Parquet data at ``path``; a missing path, a
    file that is not Parquet (or is truncated), a missing column or files with
    different columns raise an error naming the path and what is valid."""
    pq = pyarrow_parquet()
    files = parquet_files(path)
    columns = types = None
    units, null_counts = [], {}
    for file in files:
        metadata = open_file(pq, file).metadata
        schema = metadata.schema.to_arrow_schema()
        if columns is None:
            columns, types = _feature_columns(schema, features, label, file)
        missing = [c for c in [*columns, label] if c not in schema.names]
        if missing:
            raise ValueError(
                f"{file!r} has no column(s) {missing}, which {files[0]!r} has; its "
                f"columns are {schema.names}. {VALID}"
            )
        units += _units(file, metadata)
        _count_nulls(metadata, columns, null_counts)
    if not units:
        raise ValueError(f"{str(path)!r} holds no rows: nothing to train on. {VALID}")
    may_be_null = [c for c in columns if null_counts.get(c, 0) != 0]
    return Layout(files, columns, label, types, units, may_be_null)


def _feature_columns(schema, features, label, file):
    names = list(schema.names)
    if label not in names:
        raise ValueError(
            f"no label column {label!r} in {file!r}; its columns are {names}"
        )
    wanted = [c for c in names if c != label] if features is None else features
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    missing = [c for c in wanted if c not in names]
    if missing or not wanted:
        raise ValueError(
            f"feature column(s) {missing or wanted} not in {file!r}; its columns "
            f"are {names}"
        )
    return wanted, {c: schema.field(c).type for c in wanted}


def _units(file, metadata):
    """The read units of one file: small consecutive row groups together, up to
    ``UNIT_ROWS`` rows; a larger row group in slices of ``UNIT_ROWS``."""
    units, packed, n_packed = [], [], 0
    for group in range(metadata.num_row_groups):
        n = metadata.row_group(group).num_rows
        if n == 0:
            continue
        if packed and (n > UNIT_ROWS or n_packed + n > UNIT_ROWS):
            units.append(Unit(file, packed, n_packed))
            packed, n_packed = [], 0
        if n > UNIT_ROWS:
            for part, first in enumerate(range(0, n, UNIT_ROWS)):
                rows = min(UNIT_ROWS, n - first)
                units.append(Unit(file, [group], rows, part, group_rows=n))
        else:
            packed.append(group)
            n_packed += n
    if packed:
        units.append(Unit(file, packed, n_packed))
    return units


def _count_nulls(metadata, columns, counts):
    """Add each column's null count over the row groups to ``counts`` (-1 where a
    row group has no statistics: nulls not ruled out)."""
    index = {metadata.schema.column(j).path: j for j in range(metadata.num_columns)}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for name in columns:
            j = index.get(name)
            stats = None if j is None else row_group.column(j).statistics
            if stats is None or not stats.has_null_count:
                counts[name] = -1
            elif counts.get(name, 0) >= 0:
                counts[name] = counts.get(name, 0) + stats.null_count
