"""Every row id of a table and its label, read without touching the features."""

import numpy as np

from .schema import ORDERED_AGGREGATES, quote

# Rows fetched from a cursor at a time: a list of one tuple per row of the whole
# table would cost ~130 bytes a row.
FETCH_ROWS = 65536


def read_ids_and_labels(reader):
    """All row ids of the table of ``reader`` (a :class:`~.reader.TableReader`) in
    primary-key order, and the label of each.

    Binary labels with an index on them (as ``write_sqlite`` makes) are read
    through the index. Without one, a table with at most two numeric label
    values is read with one scan that returns a single string, one character
    per row (whether its label is the first row's label): about a third of the
    time of reading an (id, label) tuple per row, which is the fallback for any
    other table. The ids are a range when they have no gaps.
    """
    from_index = ids_and_labels_from_index(reader)
    if from_index is not None:
        return from_index
    conn = reader.bytes_connection()
    if conn is None:
        return read_id_label_rows(reader)
    schema = reader.schema
    table, id_col = quote(schema.table), quote(schema.id_column)
    label, snapshot = quote(schema.label), reader.in_snapshot()
    first = conn.execute(
        f"SELECT {label} FROM {table} WHERE {snapshot} LIMIT 1"
    ).fetchone()
    if first is None or first[0] is None or isinstance(first[0], bytes):
        # empty, NULL or text labels (text arrives as this connection's bytes)
        return read_id_label_rows(reader)
    in_order = f" ORDER BY {id_col}" if ORDERED_AGGREGATES else ""
    flags, n, low, high, other, other_max = conn.execute(
        f"SELECT group_concat({label} = :v, ''{in_order}), COUNT(*), "
        f"MIN({id_col}), MAX({id_col}), "
        f"MIN(CASE WHEN {label} <> :v THEN {label} END), "
        f"MAX(CASE WHEN {label} <> :v THEN {label} END) FROM {table} "
        f"WHERE {snapshot}",
        {"v": first[0]},
    ).fetchone()
    if len(flags) != n or other != other_max:  # NULL labels, or > 2 values
        return read_id_label_rows(reader)
    if isinstance(other, bytes):
        return read_id_label_rows(reader)  # text labels: this connection's bytes
    ids = _all_row_ids(conn, reader, n, low, high)
    is_first = np.frombuffer(flags, dtype=np.uint8) == ord("1")
    if other is None:
        return ids, np.full(n, first[0], dtype=label_dtype(first[0]))
    labels = np.full(n, other, dtype=label_dtype(other, first[0]))
    labels[is_first] = first[0]
    return ids, labels


def ids_and_labels_from_index(reader):
    """Ids and binary labels read through an index on the label column (as
    ``write_sqlite`` makes), touching only the index and the rarer class's
    entries; None where the table has no such index, or its labels are not two
    values without NULLs (the other reads handle those)."""
    conn, schema = reader.connection(), reader.schema
    if not _label_is_indexed(conn, schema):
        return None
    table, snapshot = quote(schema.table), reader.in_snapshot()
    id_col, label = quote(schema.id_column), quote(schema.label)

    def one(sql, *params):
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    rows = f"{table} WHERE {snapshot}"
    low_label = one(f"SELECT {label} FROM {rows} ORDER BY {label} LIMIT 1")
    high_label = one(f"SELECT {label} FROM {rows} ORDER BY {label} DESC LIMIT 1")
    if low_label is None or low_label == high_label:  # NULLs sort first
        return None
    between = f"SELECT 1 FROM {rows} AND {label} > ? AND {label} < ? LIMIT 1"
    if one(between, low_label, high_label) is not None:
        return None  # a third value
    n = one(f"SELECT COUNT(*) FROM {rows}")
    low, high = (
        one(f"SELECT MIN({id_col}) FROM {rows}"),
        one(f"SELECT MAX({id_col}) FROM {rows}"),
    )
    # Which value is rarer: counting stops half-way through the commoner one.
    count_low = one(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {rows} AND {label} = ? LIMIT ?)",
        low_label,
        n // 2 + 1,
    )
    rare, common = low_label, high_label
    if count_low > n // 2:
        rare, common = common, rare
    ids_of_rare = _read_column(
        conn.execute(f"SELECT {id_col} FROM {rows} AND {label} = ? ORDER BY 1", (rare,))
    )
    ids = _all_row_ids(conn, reader, n, low, high)
    labels = np.full(n, common, dtype=label_dtype(common, rare))
    labels[ids.searchsorted(ids_of_rare)] = rare
    return ids, labels


def read_id_label_rows(reader):
    """Ids and labels read as an (id, label) tuple per row: any table's."""
    schema = reader.schema
    cursor = reader.connection().execute(
        f"SELECT {quote(schema.id_column)}, {quote(schema.label)} "
        f"FROM {quote(schema.table)} WHERE {reader.in_snapshot()} ORDER BY 1"
    )
    ids, labels = [], []
    for block in _fetched(cursor):
        ids.append(np.fromiter((r[0] for r in block), np.int64, len(block)))
        labels.append(np.array([r[1] for r in block]))
    if not ids:
        return np.empty(0, np.int64), np.empty(0)
    ids, labels = np.concatenate(ids), np.concatenate(labels)
    missing = np.flatnonzero(np.equal(labels, None))
    if missing.size:
        raise ValueError(
            f"label column {schema.label!r} of table {schema.table!r} in "
            f"{reader.path!r} is NULL in {missing.size} rows (ids "
            f"{ids[missing[:5]].tolist()}...); every row needs one of two "
            "labels, as skimb.data.write_sqlite writes"
        )
    if labels.dtype.kind == "i" and labels.size:  # as the other reads give them
        labels = labels.astype(label_dtype(labels.min(), labels.max()))
    return ids, labels


def label_dtype(*values):
    """The smallest integer type that holds these labels (int8 for 0/1: a byte a
    row), or NumPy's type for them when they are not ints."""
    if all(isinstance(v, (int, np.integer)) for v in values):
        for dtype in (np.int8, np.int16, np.int32):
            info = np.iinfo(dtype)
            if all(info.min <= v <= info.max for v in values):
                return dtype
        return np.int64
    return np.asarray(values).dtype


class IdRange:
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


def ids_between(ids, low, high):
    """The ids of the sorted ``ids`` (an array or an :class:`IdRange`) from
    ``low`` to ``high``."""
    if isinstance(ids, IdRange):
        last = ids.low + ids.n - 1
        return np.arange(max(low, ids.low), min(high, last) + 1, dtype=np.int64)
    ids = np.asarray(ids)
    return ids[np.searchsorted(ids, low) : np.searchsorted(ids, high, side="right")]


def _all_row_ids(conn, reader, n, low, high):
    """The table's ``n`` row ids in order, lowest ``low`` and highest ``high``: a
    range when there are no gaps (as ``write_sqlite`` writes them), else read."""
    schema = reader.schema
    if high - low + 1 == n:
        return IdRange(low, n)
    return _read_column(
        conn.execute(
            f"SELECT {quote(schema.id_column)} FROM {quote(schema.table)} "
            f"WHERE {reader.in_snapshot()} ORDER BY 1"
        )
    )


def _label_is_indexed(conn, schema):
    for index in conn.execute(f"PRAGMA index_list({quote(schema.table)})"):
        columns = conn.execute(f"PRAGMA index_info({quote(index[1])})").fetchall()
        partial = index[4] if len(index) > 4 else 0
        if columns and columns[0][2] == schema.label and not partial:
            return True
    return False


def _read_column(cursor):
    """The first column of a query's rows as an int64 array."""
    parts = [
        np.fromiter((r[0] for r in block), np.int64, len(block))
        for block in _fetched(cursor)
    ]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _fetched(cursor):
    """A query's rows, ``FETCH_ROWS`` at a time."""
    while block := cursor.fetchmany(FETCH_ROWS):
        yield block
