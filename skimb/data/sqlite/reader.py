"""Reads of one SQLite table through read-only connections, one per thread."""

import os
import sqlite3
import threading
from urllib.parse import quote as url_quote

import numpy as np

from ..lazy_rows import PerThreadReader
from .schema import ORDERED_AGGREGATES, quote, read_schema


class TableReader(PerThreadReader):
    """Read-only access to one table: its :class:`~.schema.Schema`, and features
    read by row id.

    The file is opened read-only (``mode=ro``: a wrong path never creates a file)
    and lazily in each thread and process: threads sharing a dataset (joblib's
    threading backend) never share a connection, which Python's sqlite3 does not
    support using from two threads at once, and a forked process opens its own. It
    pickles as its path and schema.

    Parameters
    ----------
    path : str
        The SQLite file.
    table, features, label
        As for :class:`~skimb.data.SQLiteDataset`.
    """

    def __init__(self, path, table, features, label):
        self.path = path
        # Connections, and the dataset's passing_through flag, per thread.
        self.local = threading.local()
        self.schema = read_schema(self.connection(), path, table, features, label)
        # The table as it is now: rows appended later (another process's
        # write_sqlite(..., if_exists="append")) have higher ids and are never read,
        # in this process or in any the reader is pickled to.
        self.last_id = (
            self.connection()
            .execute(f"SELECT MAX({quote(self.schema.id_column)}) FROM {quote(table)}")
            .fetchone()[0]
        )
        self._joined_sql = None
        #: A fitted table encoding (``transform(frame) -> float32``) that turns the
        #: feature columns' values into the model's inputs, or None: read as numbers.
        self.encoding = None

    # -- connections -------------------------------------------------------------
    def connection(self):
        """This thread's read-only connection, opened on first use."""
        local = self.local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or forked
            local.conn, local.bytes_conn, local.pid = None, None, os.getpid()
        if local.conn is None:
            local.conn = self._open_read_only()
        return local.conn

    def connected(self):
        """Whether this thread has opened its connection."""
        return getattr(self.local, "conn", None) is not None

    def bytes_connection(self):
        """A second read-only connection that returns text as bytes (for joined
        BLOBs), or None where the file's text encoding is not UTF-8, as a joined
        BLOB read as UTF-16 text would not keep its bytes."""
        self.connection()  # this thread's connections, fresh after a fork
        local = self.local
        if local.bytes_conn is None:
            handle = self._open_read_only()
            handle.text_factory = bytes
            encoding = handle.execute("PRAGMA encoding").fetchone()[0]
            if encoding != b"UTF-8":
                handle.close()
                handle = False  # not None: asked once per thread
            local.bytes_conn = handle
        return local.bytes_conn or None

    def _open_read_only(self):
        uri = f"file:{url_quote(os.path.abspath(self.path))}?mode=ro"
        # A busy timeout lets reads wait out another process's commit.
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    def in_snapshot(self):
        """The SQL condition that holds for the rows present when the reader was
        opened (those up to ``last_id``): every query over the whole table adds it."""
        if self.last_id is None:
            return "0"  # the table was empty
        return f"{quote(self.schema.id_column)} <= {int(self.last_id)}"

    def count_rows(self):
        """Rows in the table when the reader was opened."""
        table = quote(self.schema.table)
        sql = f"SELECT COUNT(*) FROM {table} WHERE {self.in_snapshot()}"
        return self.connection().execute(sql).fetchone()[0]

    def rows_now(self):
        """Rows in the table now, appended ones included."""
        table = quote(self.schema.table)
        return self.connection().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    # -- features ----------------------------------------------------------------
    def read_range(self, range_ids):
        """Features of the rows with these consecutive ids (ascending), read with
        one range query: as one joined BLOB where it can, else row by row."""
        schema = self.schema
        if schema.blob_column is not None:
            features = self.read_joined_blobs(range_ids)
            if features is not None:
                return features
        id_col = quote(schema.id_column)
        # Features only: the ids of a range are known, and skipping them makes the
        # read about 30% faster (fewer Python objects per row).
        rows = (
            self.connection()
            .execute(
                f"SELECT {schema.columns_sql()} FROM {quote(schema.table)} "
                f"WHERE {id_col} BETWEEN ? AND ? ORDER BY {id_col}",
                (int(range_ids[0]), int(range_ids[-1])),
            )
            .fetchall()
        )
        self.check_unchanged(range_ids, len(rows))
        return self.decode(rows, 0, lambda i: range_ids[i])

    def read_joined_blobs(self, range_ids):
        """Features of the rows with these consecutive ids, read as one joined BLOB:
        one Python object per block instead of one per row, about 2.4x faster.

        ``group_concat`` joins the BLOBs in the order the range scan of the primary
        key visits the rows, which is key order (SQLite 3.44+ is told so with an
        ORDER BY inside the aggregate; before it, this is the scan's order).
        None where the range holds a NULL or wrongly sized BLOB: the row-by-row
        read then names the row.
        """
        conn = self.bytes_connection()
        if conn is None:
            return None
        schema = self.schema
        if self._joined_sql is None:  # built once: this runs for every block
            blob, id_col = quote(schema.blob_column), quote(schema.id_column)
            in_order = f" ORDER BY {id_col}" if ORDERED_AGGREGATES else ""
            self._joined_sql = (
                f"SELECT group_concat({blob}, ''{in_order}), COUNT(*) "
                f"FROM {quote(schema.table)} WHERE {id_col} BETWEEN ? AND ?"
            )
        joined, n_found = conn.execute(
            self._joined_sql, (int(range_ids[0]), int(range_ids[-1]))
        ).fetchone()
        self.check_unchanged(range_ids, n_found)
        if joined is None or len(joined) != 4 * schema.n_features * len(range_ids):
            return None
        return np.frombuffer(joined, dtype=np.float32).reshape(
            len(range_ids), schema.n_features
        )

    def read_features(self, wanted_ids):
        """Features of the rows with these ids (any order, repeats allowed)."""
        schema = self.schema
        unique_ids = np.unique(wanted_ids)
        id_col = quote(schema.id_column)
        select = f"SELECT {schema.columns_sql()} FROM {quote(schema.table)} WHERE "
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
            self.connection()
            .execute(f"{select}{where} ORDER BY {id_col}", params)
            .fetchall()
        )
        self.check_unchanged(unique_ids, len(rows))
        features = self.decode(rows, 0, lambda i: unique_ids[i])
        return features[np.searchsorted(unique_ids, wanted_ids)]

    def read_values(self, wanted_ids, columns):
        """The values of ``columns`` of the rows with these ids (ascending, no
        repeats), as SQLite returns them (``None`` for NULL), one tuple per row."""
        schema = self.schema
        id_col = quote(schema.id_column)
        select = ", ".join(map(quote, columns))
        rows = []
        for first, last in id_runs(wanted_ids):
            rows += (
                self.connection()
                .execute(
                    f"SELECT {id_col}, {select} FROM {quote(schema.table)} WHERE "
                    f"{id_col} BETWEEN ? AND ? ORDER BY {id_col}",
                    (int(wanted_ids[first]), int(wanted_ids[last - 1])),
                )
                .fetchall()
            )
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        keep = np.isin(found, wanted_ids)
        self.check_unchanged(wanted_ids, int(keep.sum()))
        return [r[1:] for r, k in zip(rows, keep, strict=True) if k]

    def count_values(self, column, first_id, last_id):
        """``(value, count)`` of the values (NULL left out) of ``column`` in the
        rows with ids from ``first_id`` to ``last_id``, counted by SQLite."""
        column, id_col = quote(column), quote(self.schema.id_column)
        return (
            self.connection()
            .execute(
                f"SELECT {column}, COUNT(*) FROM {quote(self.schema.table)} WHERE "
                f"{id_col} BETWEEN ? AND ? AND {column} IS NOT NULL GROUP BY {column}",
                (int(first_id), int(last_id)),
            )
            .fetchall()
        )

    def check_unchanged(self, wanted_ids, n_found):
        """Raise when a read found fewer rows than the ids it asked for."""
        if n_found != len(wanted_ids):
            raise RuntimeError(
                f"table {self.schema.table!r} changed while it was read: "
                f"{len(wanted_ids) - n_found} of the row ids asked for (between "
                f"{wanted_ids.min()} and {wanted_ids.max()}) are gone; open a new "
                "SQLiteDataset"
            )

    def decode(self, rows, start, row_id):
        """Float32 features of ``rows``, whose values from ``start`` on are features;
        ``row_id(i)`` names row ``i`` in errors."""
        schema = self.schema
        n_features = schema.n_features
        if schema.blob_column is None:
            values = rows if start == 0 else [r[start:] for r in rows]
            if self.encoding is not None:
                return self.encoding.transform_rows(values)
            try:
                # NULL (None) reads as NaN
                array = np.array(values, dtype=np.float32)
            except (TypeError, ValueError):
                raise ValueError(
                    f"table {schema.table!r} has text in its feature columns "
                    f"(TEXT: {schema.text_columns()}): categorical columns are "
                    "encoded by a fit (ImbalancedNetClassifier(categorical='auto')); "
                    "SQLiteDataset.read_frame(rows) reads their values"
                ) from None
            return array.reshape(len(rows), n_features)
        blobs = [r[start] for r in rows]
        expected = 4 * n_features
        buffer = b"".join(blobs)
        if len(buffer) != expected * len(blobs):
            bad = next(
                i for i, b in enumerate(blobs) if b is None or len(b) != expected
            )
            raise ValueError(
                f"row id {row_id(bad)} of table {schema.table!r} has a feature BLOB "
                f"that is not {n_features} float32 values ({expected} bytes)"
            )
        return np.frombuffer(buffer, dtype=np.float32).reshape(len(blobs), n_features)


#: Rows (ids) one query of :meth:`TableReader.read_values` spans at most.
VALUE_READ_ROWS = 65_536
#: Ids between two wanted ones that one query of :meth:`TableReader.read_values`
#: reads through rather than start another: a row read and dropped costs about
#: 3 us, a query about 50 us. A scaling sample of whole blocks spread over the
#: table then reads its blocks, not every row between them (at a million rows it
#: read all of them: 2.2 s for a sample of 131,072).
VALUE_READ_GAP = 16


def id_runs(ids, span=VALUE_READ_ROWS):
    """``(first, last)`` position bounds of runs of the sorted ``ids`` whose id
    range one query reads: no gap of more than ``VALUE_READ_GAP`` ids inside, and
    less than ``span`` ids apart (None: no bound)."""
    ids = np.asarray(ids)
    breaks = np.flatnonzero(np.diff(ids) > VALUE_READ_GAP + 1) + 1
    starts, ends = [0, *breaks.tolist()], [*breaks.tolist(), len(ids)]
    for start, end in zip(starts, ends, strict=True):
        while start < end:
            if span is None:
                stop = end
            else:
                stop = start + int(np.searchsorted(ids[start:end], ids[start] + span))
            yield start, max(stop, start + 1)
            start = max(stop, start + 1)
