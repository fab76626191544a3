"""Which columns of a table are categories, and a table as a pandas DataFrame."""

import numbers

import numpy as np
import pandas as pd

#: What ``categorical="auto"`` takes for categories.
CATEGORICAL_AUTO = "auto"


def is_table(X):
    """Whether ``X`` is a data frame (pandas, or polars and others with
    ``to_pandas``), which the classifier encodes column by column."""
    if isinstance(X, pd.DataFrame):
        return True
    return hasattr(X, "columns") and hasattr(X, "to_pandas") and hasattr(X, "shape")


def needs_encoding(X, categorical):
    """Whether in-memory ``X`` is fitted through a :class:`TableEncoder`: a data
    frame with a categorical column (as ``categorical`` says) or a missing value,
    an array with missing values or with columns listed in ``categorical``. A
    numeric table without gaps trains as the array it holds; an object array
    without listed columns is read as numbers (as scikit-learn reads it)."""
    if is_table(X):
        frame = as_frame(X)
        if categorical_positions(frame, categorical):
            return True
        numeric = all(pd.api.types.is_numeric_dtype(d) for d in frame.dtypes)
        return not numeric or bool(frame.isna().to_numpy().any())
    if isinstance(categorical, (list, tuple)) and len(categorical) > 0:
        return True
    try:
        array = np.asarray(X)
    except (TypeError, ValueError):
        return False
    return array.dtype.kind == "f" and bool(np.isnan(array).any())


def as_frame(X):
    """``X`` as a pandas DataFrame: as it is, converted (polars), or an array's
    columns named by position."""
    if isinstance(X, pd.DataFrame):
        return X
    if is_table(X):
        return X.to_pandas()
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2D array or a data frame, got an array of shape {array.shape}"
        )
    return pd.DataFrame(array)


def is_categorical_dtype(dtype):
    """The dtypes ``categorical="auto"`` takes for categories: ``category``,
    ``object``, strings and booleans (anything not a number)."""
    if pd.api.types.is_bool_dtype(dtype):
        return True
    return not pd.api.types.is_numeric_dtype(dtype)


def categorical_positions(frame, categorical):
    """Positions of the categorical columns of ``frame`` that ``categorical``
    names: ``"auto"`` (the non-numeric dtypes), a list of column names or
    positions, or None (none)."""
    columns = list(frame.columns)
    if categorical is None:
        return []
    if isinstance(categorical, str) and categorical == CATEGORICAL_AUTO:
        return [
            j for j, dtype in enumerate(frame.dtypes) if is_categorical_dtype(dtype)
        ]
    if isinstance(categorical, str) or not hasattr(categorical, "__iter__"):
        raise ValueError(
            f"categorical={categorical!r} is not one of 'auto', None, or a list of "
            "column names or positions"
        )
    positions = []
    for key in categorical:
        if key in columns:
            positions.append(columns.index(key))
        elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not -len(columns) <= key < len(columns):
                raise ValueError(
                    f"categorical column position {key} is out of range for "
                    f"{len(columns)} columns"
                )
            positions.append(int(key) % len(columns))
        else:
            shown = columns[:20]
            raise ValueError(
                f"categorical column {key!r} is not a column of X; its columns are "
                f"{shown}{' ...' if len(columns) > 20 else ''}"
            )
    return sorted(set(positions))


def numeric_values(series, name):
    """A numeric column as float64 with NaN for every missing value (``None``,
    ``pd.NA``, ``NaN``); a clear error for text and for infinities."""
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        try:
            values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            example = series.dropna().iloc[:3].tolist()
            raise ValueError(
                f"column {name!r} is not numeric (dtype {series.dtype}, values like "
                f"{example}); name it in `categorical` or use categorical='auto'"
            ) from None
    if np.isinf(values).any():
        raise ValueError(
            f"column {name!r} holds infinite values; only finite numbers and "
            "missing values (NaN, None) are valid"
        )
    return values
