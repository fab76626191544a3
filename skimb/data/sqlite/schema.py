"""Which columns of a SQLite table hold the row id, the label and the features."""

import sqlite3
from pathlib import Path

# SQLite 3.44+ takes an ORDER BY inside an aggregate (group_concat); before it,
# group_concat joins in the order the scan visits the rows.
ORDERED_AGGREGATES = sqlite3.sqlite_version_info >= (3, 44)

#: Parts of a declared type that give a column TEXT affinity (SQLite's rule 2).
TEXT_TYPES = ("CHAR", "CLOB", "TEXT")

#: Prefix of the table a replacing ``write_sqlite`` fills before the swap.
WRITING_PREFIX = "_skimb_writing_"


class Schema:
    """The columns :class:`~skimb.data.SQLiteDataset` reads from ``table``.

    Attributes
    ----------
    table, label : str
        The table and its label column.
    id_column : str
        The ``INTEGER PRIMARY KEY`` column, else ``"rowid"``.
    blob_column : str or None
        The BLOB column of float32 vectors, or None for numeric feature columns.
    feature_columns : list of str
        The feature columns (the BLOB column alone, for one).
    n_features : int
        Features per row.
    declared_types : dict
        The declared SQL type of each feature column (upper case).
    """

    def __init__(
        self,
        table,
        label,
        id_column,
        blob_column,
        feature_columns,
        n_features,
        declared_types=None,
    ):
        self.table, self.label, self.id_column = table, label, id_column
        self.blob_column, self.feature_columns = blob_column, feature_columns
        self.n_features = n_features
        self.declared_types = declared_types or {}

    def text_columns(self):
        """The feature columns of TEXT affinity (SQLite's rule: a declared type
        holding CHAR, CLOB or TEXT), which ``categorical="auto"`` reads as
        categories."""
        return [
            name
            for name in self.feature_columns
            if self.blob_column is None
            and any(t in self.declared_types.get(name, "") for t in TEXT_TYPES)
        ]

    def columns_sql(self):
        """The feature columns, quoted, for a SELECT."""
        if self.blob_column:
            return quote(self.blob_column)
        return ", ".join(map(quote, self.feature_columns))


def read_schema(conn, path, table, features, label):
    """The :class:`Schema` of ``table`` in the file ``path`` open as ``conn``; a
    missing table or column raises ``ValueError`` naming what exists."""
    try:
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
        ).fetchall()
    except sqlite3.DatabaseError as error:
        raise open_error(path, table, error) from error
    # A replacing write that crashed leaves its partial table: not data.
    tables = [r[0] for r in names if not r[0].startswith(WRITING_PREFIX)]
    if table not in tables:
        raise ValueError(f"no table {table!r} in {path!r}; tables are {tables}")
    info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
    columns = {row[1]: (row[2] or "").upper() for row in info}
    primary = [row[1] for row in info if row[5] == 1 and row[2].upper() == "INTEGER"]
    id_column = primary[0] if len(primary) == 1 else "rowid"
    if label not in columns:
        raise ValueError(
            f"no label column {label!r} in table {table!r}; columns are {list(columns)}"
        )
    if features is None:
        names = [c for c in columns if c not in (label, id_column)]
        if len(names) == 1 and columns[names[0]] == "BLOB":
            names = names[0]
    else:
        names = features
    wanted = [names] if isinstance(names, str) else list(names)
    missing = [c for c in wanted if c not in columns]
    if missing or not wanted:
        raise ValueError(
            f"feature column(s) {missing or wanted} not in table {table!r}; "
            f"columns are {list(columns)}"
        )
    if not isinstance(names, str):
        types = {name: columns[name] for name in wanted}
        return Schema(table, label, id_column, None, wanted, len(wanted), types)
    n_features = _blob_length(conn, path, table, names) // 4
    return Schema(table, label, id_column, names, wanted, n_features)


def _blob_length(conn, path, table, blob_column):
    row = conn.execute(
        f"SELECT length({quote(blob_column)}) FROM {quote(table)} LIMIT 1"
    ).fetchone()
    if row is None or row[0] is None:
        raise ValueError(
            f"table {table!r} in {path!r} has no rows (or a NULL "
            f"{blob_column!r} in its first row): nothing to train on or to "
            "read a feature vector length from; skimb.data.write_sqlite writes "
            "a non-empty table"
        )
    return row[0]


def open_error(path, table, error):
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


def quote(name):
    """``name`` as a quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'
