"""DataFrames as SQLite columns: numbers as REAL or INTEGER, categories as TEXT,
missing values as NULL (what ``write_sqlite`` writes for a table)."""

import numpy as np

from .schema import quote

#: Columns of a written table that are not features.
RESERVED = ("id", "label")


def is_frame(X):
    """Whether ``X`` is a data frame (pandas, or one with ``to_pandas``)."""
    return hasattr(X, "columns") and hasattr(X, "dtypes")


def as_pandas(X):
    return X.to_pandas() if hasattr(X, "to_pandas") else X


def column_types(frame):
    """``[(name, SQL type)]``: integers INTEGER, other numbers REAL, everything else
    (categories, strings, booleans) TEXT, so that ``SQLiteDataset`` reads the TEXT
    columns as categories, as the classifier reads the frame's."""
    import pandas as pd

    types = []
    for name, dtype in frame.dtypes.items():
        name = str(name)
        if name in RESERVED:
            raise ValueError(
                f"column {name!r} of X is one write_sqlite writes itself "
                f"({', '.join(RESERVED)}); rename it"
            )
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(
            dtype
        ):
            types.append((name, "TEXT"))
        elif pd.api.types.is_integer_dtype(dtype):
            types.append((name, "INTEGER"))
        else:
            types.append((name, "REAL"))
    return types


def frame_rows(frame, y, types):
    """The rows of ``frame`` with their labels, as SQLite values (``None`` where a
    value is missing; TEXT as ``str``)."""
    import pandas as pd

    columns = []
    for (name, kind), (_, series) in zip(types, frame.items(), strict=True):
        missing = np.asarray(pd.isna(series))
        if kind == "TEXT":
            values = np.array([str(v) for v in series.to_numpy(object)], dtype=object)
        elif kind == "INTEGER":
            values = series.to_numpy(object)
        else:
            values = series.to_numpy(np.float64, na_value=np.nan).astype(object)
        if kind == "REAL" and np.isinf(series.to_numpy(np.float64, na_value=0)).any():
            raise ValueError(f"column {name!r} of X holds infinite values")
        values[missing] = None
        columns.append(values.tolist())
    columns.append(np.asarray(y).tolist())
    return zip(*columns, strict=True)


def create_sql(table, types):
    columns = ", ".join(f"{quote(name)} {kind}" for name, kind in types)
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(table)} "
        f"(id INTEGER PRIMARY KEY, {columns}, label INTEGER NOT NULL)"
    )


def insert_sql(table, types):
    names = ", ".join(quote(name) for name, _ in types)
    marks = ", ".join("?" * (len(types) + 1))
    return f"INSERT INTO {quote(table)} ({names}, label) VALUES ({marks})"


def check_frame_chunk(frame, y, types):
    """``(frame, y, types)`` of a chunk, its columns checked against the first
    chunk's ``types`` (None for the first)."""
    frame = as_pandas(frame)
    y = np.asarray(y)
    if len(frame) != len(y) or y.ndim != 1:
        raise ValueError(f"X has {len(frame)} rows but y has shape {y.shape}")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers or booleans, got dtype {y.dtype}")
    found = column_types(frame)
    if types is not None and [n for n, _ in found] != [n for n, _ in types]:
        raise ValueError(
            f"chunk has columns {[n for n, _ in found]}, the table has "
            f"{[n for n, _ in types]}"
        )
    return frame, y, found if types is None else types
