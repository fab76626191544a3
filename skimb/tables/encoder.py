"""A table as one float32 matrix a network trains on, learned on the training rows.

:class:`TableEncoder` turns a data frame (or an array with missing values) into the
packed matrix every later part of a fit handles as it handles numeric arrays
(datasets, samplers, batches, bagging): the numeric columns with missing values
imputed, then missing-value indicators, then one integer code per categorical
column. :class:`TableLayout` says which columns are which, so the network can
embed the codes (:mod:`skimb.modules.tables`) and the scaling leaves them alone.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from ..scaling import FeatureScaler
from .columns import as_frame, categorical_positions, is_table, numeric_values

#: Code of a missing category (None, NaN, pd.NA).
MISSING_CODE = 0
#: Code shared by the categories seen on fewer than ``min_category_rows`` training
#: rows, by those past ``max_categories``, and by categories never seen in training.
RARE_CODE = 1
#: Categories on fewer training rows than this share :data:`RARE_CODE`: a network
#: cannot learn an embedding from a handful of rows, and an id column then costs
#: nothing.
MIN_CATEGORY_ROWS = 5
#: At most this many categories of a column get their own code (the most frequent).
MAX_CATEGORIES = 1000
#: Columns with more distinct training values than this also get an out-of-fold
#: target encoding (a numeric input: the smoothed positive rate of the category).
TARGET_ENCODING_MIN_LEVELS = 10


@dataclass(frozen=True)
class TableLayout:
    """The columns of a packed table matrix, left to right.

    Parameters
    ----------
    n_scaled : int
        Numeric columns and target encodings: the columns feature scaling scales.
    n_numeric : int
        All numeric inputs: the scaled ones, then the 0/1 missing-value indicators.
    cardinalities : tuple of int
        One per categorical column after the numeric inputs: its codes are
        ``0 .. cardinality - 1`` (stored as float32, exact below 2**24).
    """

    n_scaled: int
    n_numeric: int
    cardinalities: tuple

    @property
    def width(self):
        return self.n_numeric + len(self.cardinalities)


class TableEncoder:
    """Encode a table's columns for a network, with statistics of the training rows.

    * Numeric columns: missing values (``NaN``, ``None``, ``pd.NA``) are replaced by
      the column's training median; every column with a missing value on the
      training rows gets a 0/1 indicator input (``missing_indicators``).
    * Categorical columns: each category seen on at least ``min_category_rows``
      training rows (the ``max_categories`` most frequent) gets a code from 2 up;
      code 0 is a missing value, code 1 is shared by the rare categories and by any
      category never seen in training, so predicting never fails on a new one.
    * With ``target_encoding=True``, columns with more than
      ``target_encoding_min_levels`` distinct training values also get a numeric
      input, scikit-learn's :class:`~sklearn.preprocessing.TargetEncoder`
      (smoothed positive rate, cross-fitted on the training rows so a row's own
      label never enters its value; Micci-Barreca 2001).

    Parameters
    ----------
    categorical : "auto", list of column names or positions, or None, default="auto"
        ``"auto"``: the columns whose dtype is not a number (``category``,
        ``object``, strings, booleans).
    min_category_rows : int, default=5
    max_categories : int, default=1000
    target_encoding : bool, default=False
        Off by default: on the development tables (``benchmarks/bench_tables.py``,
        ``docs/tables.md``) it scored no better than embeddings alone, also on a
        column of ~5,000 values.
    missing_indicators : bool, default=True
    target_encoding_min_levels : int, default=TARGET_ENCODING_MIN_LEVELS
        Columns with more distinct training values than this are target-encoded.

    Attributes
    ----------
    columns_ : list
        The column names of the training table (positions for an array).
    numeric_columns_, categorical_columns_ : list
    fill_ : ndarray of shape (n_numeric_columns,)
        The imputed value of each numeric column (its training median; 0 for a
        column with no value).
    indicators_ : ndarray of int
        Which numeric columns (positions among them) have an indicator input.
    vocabularies_ : list of pandas.Index
        Per categorical column, the categories with their own code (code ``2 + i``).
    target_encoded_ : list of int
        Positions among the categorical columns that are target-encoded.
    layout_ : TableLayout
    scaler_ : FeatureScaler or None
        Scaling of the ``layout_.n_scaled`` leading columns, with statistics of the
        training rows' observed values (missing values left out).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
    >>> encoder = TableEncoder(min_category_rows=1)
    >>> encoder.fit_transform(frame, [0, 1, 0]).tolist()
    [[1.0, 0.0, 2.0], [2.0, 1.0, 3.0], [3.0, 0.0, 2.0]]
    >>> encoder.layout_
    TableLayout(n_scaled=1, n_numeric=2, cardinalities=(4,))
    >>> encoder.transform(pd.DataFrame({"x": [5.0], "c": ["new"]})).tolist()
    [[5.0, 0.0, 1.0]]
    """

    def __init__(
        self,
        categorical="auto",
        min_category_rows=MIN_CATEGORY_ROWS,
        max_categories=MAX_CATEGORIES,
        target_encoding=False,
        missing_indicators=True,
        target_encoding_min_levels=TARGET_ENCODING_MIN_LEVELS,
    ):
        self.categorical = categorical
        self.min_category_rows = min_category_rows
        self.max_categories = max_categories
        self.target_encoding = target_encoding
        self.missing_indicators = missing_indicators
        self.target_encoding_min_levels = target_encoding_min_levels

    def fit_transform(
        self, X, y, train_rows=None, scaling=None, folds=5, random_state=None
    ):
        """Learn the encoding on the ``train_rows`` of ``X`` (all rows when None) and
        return all rows encoded, as float32 of shape ``(n, layout_.width)``.

        ``y`` are the 0/1 labels of all rows (only the training rows' are read, by
        the target encoding, cross-fitted over ``folds`` stratified folds drawn
        with ``random_state``). ``scaling`` (``"standard"``, ``"robust"`` or None)
        fits :attr:`scaler_` on the training rows.
        """
        frame = as_frame(X)
        self._check_options()
        self._learn_columns(frame)
        n_rows = len(frame)
        rows = np.arange(n_rows) if train_rows is None else np.asarray(train_rows)
        train = np.zeros(n_rows, dtype=bool)
        train[rows] = True

        numbers = self._numbers(frame)
        self._learn_numbers(numbers[train])
        counts = [
            frame[name][train].value_counts(dropna=True)
            for name in self.categorical_columns_
        ]
        self._learn_vocabularies(counts, target_encoding=self.target_encoding)
        encoded_targets = self._fit_target_encoding(
            frame, np.asarray(y), train, folds, random_state
        )
        scaled = np.concatenate([numbers, encoded_targets], axis=1)
        self._set_layout(scaled.shape[1])
        self._fit_scaler(scaling, scaled[train])
        return self._packed(frame, numbers, encoded_targets)

    def fit_stream(self, sample, category_counts, scaling=None):
        """Learn the encoding of a table too large to load: the numbers' statistics
        (median, indicators, scaling) from ``sample``, a DataFrame of training
        rows, and the vocabularies from ``category_counts``, one ``pandas.Series``
        of value counts per column of ``sample`` that ``categorical`` names
        (exact counts over all training rows). No target encoding: it needs the
        categories of every training row with its label in memory. Returns self.
        """
        self._check_options()
        self._learn_columns(sample)
        numbers = self._numbers(sample)
        self._learn_numbers(numbers)
        self._learn_vocabularies(category_counts, target_encoding=False)
        self.target_encoder_ = None
        self._set_layout(numbers.shape[1])
        self._fit_scaler(scaling, numbers)
        return self

    def _learn_columns(self, frame):
        """``columns_``, and which of them are categorical or numeric."""
        self.columns_ = list(frame.columns)
        if len(self.columns_) == 0:
            raise ValueError("X has no columns; at least one feature is required")
        categorical = set(categorical_positions(frame, self.categorical))
        self.categorical_columns_ = [
            c for j, c in enumerate(self.columns_) if j in categorical
        ]
        self.numeric_columns_ = [
            c for j, c in enumerate(self.columns_) if j not in categorical
        ]

    def _learn_numbers(self, observed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
            fill = np.nanmedian(observed, axis=0) if observed.size else None
        self.fill_ = np.nan_to_num(
            np.zeros(observed.shape[1]) if fill is None else fill, nan=0.0
        )
        missing = np.isnan(observed).any(axis=0)
        self.indicators_ = np.flatnonzero(missing if self.missing_indicators else [])

    def _learn_vocabularies(self, counts, target_encoding):
        """Vocabularies from value counts (most frequent first; ties by the value's
        text, so that a table read in other chunks gets the same codes)."""
        self.vocabularies_ = []
        self.target_encoded_ = []
        for position, column_counts in enumerate(counts):
            ranked = sorted(
                column_counts.items(), key=lambda item: (-item[1], str(item[0]))
            )
            kept = [v for v, c in ranked if c >= self.min_category_rows]
            kept = kept[: self.max_categories]
            self.vocabularies_.append(pd.Index(kept, dtype=object))
            if target_encoding and len(column_counts) > self.target_encoding_min_levels:
                self.target_encoded_.append(position)

    def _set_layout(self, n_scaled):
        self.layout_ = TableLayout(
            n_scaled=n_scaled,
            n_numeric=n_scaled + len(self.indicators_),
            cardinalities=tuple(len(v) + 2 for v in self.vocabularies_),
        )

    def _fit_scaler(self, scaling, scaled_rows):
        self.scaler_ = None
        if scaling is not None and self.layout_.n_scaled:
            self.scaler_ = FeatureScaler(scaling, columns=self.layout_.n_scaled)
            self.scaler_.fit([scaled_rows], generator=None)

    def transform(self, X):
        """Encode the rows of ``X`` (the training table's columns) as fitted."""
        frame = as_frame(X)
        self._check_columns(X, frame)
        if not is_table(X):  # an array's columns are the table's, by position
            frame = frame.set_axis(self.columns_, axis=1)
        numbers = self._numbers(frame)
        return self._packed(frame, numbers, self._target_encodings(frame))

    def transform_rows(self, rows):
        """Encode rows given as sequences of values in ``columns_`` order (as a
        SQLite query returns them: ``None`` for NULL), as :meth:`transform` encodes
        the same rows of a frame, without building one (a block at a time, this is
        the read path of a table on disk). Target encoding is not applied."""
        if self.target_encoder_ is not None:
            return self.transform(
                pd.DataFrame.from_records(rows, columns=self.columns_)
            )
        # Column by column (zip transposes the tuples in C): half the time of an
        # object array's columns, on a SQLite block of 256 rows.
        columns = list(zip(*rows, strict=True)) if len(rows) else []
        columns = columns or [()] * len(self.columns_)
        positions = {c: j for j, c in enumerate(self.columns_)}
        numbers = np.array(
            [columns[positions[c]] for c in self.numeric_columns_], dtype=np.float64
        ).T.reshape(len(rows), len(self.numeric_columns_))
        if np.isinf(numbers).any():
            bad = self.numeric_columns_[
                int(np.flatnonzero(np.isinf(numbers).any(0))[0])
            ]
            raise ValueError(f"column {bad!r} holds infinite values")
        codes = np.empty((len(rows), len(self.vocabularies_)), dtype=np.float32)
        for k, (name, lookup) in enumerate(
            zip(self.categorical_columns_, self._lookups(), strict=True)
        ):
            code = lookup.get  # None (NULL) is in it; NaN (v != v) is not
            codes[:, k] = [
                code(v, RARE_CODE) if v == v else MISSING_CODE
                for v in columns[positions[name]]
            ]
        return self._packed_parts(numbers, np.empty((len(rows), 0)), codes)

    def _lookups(self):
        lookups = self.__dict__.get("_codes_by_value")
        if lookups is None:
            lookups = [
                {None: MISSING_CODE}
                | {value: i + 2 for i, value in enumerate(vocabulary)}
                for vocabulary in self.vocabularies_
            ]
            self._codes_by_value = lookups
        return lookups

    # -- parts ---------------------------------------------------------------

    def _check_options(self):
        for name in ("min_category_rows", "max_categories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")

    def _check_columns(self, X, frame):
        if len(frame.columns) != len(self.columns_):
            raise ValueError(
                f"X has {len(frame.columns)} columns, but the classifier was fitted "
                f"on {len(self.columns_)}: {self.columns_[:20]}"
            )
        if is_table(X) and list(frame.columns) != self.columns_:
            missing = [c for c in self.columns_ if c not in set(frame.columns)]
            extra = [c for c in frame.columns if c not in set(self.columns_)]
            detail = (
                f"missing {missing}, unexpected {extra}"
                if missing or extra
                else ("the same names in another order")
            )
            raise ValueError(
                f"X has other columns than the table the classifier was fitted on "
                f"({detail}); expected {self.columns_[:20]}"
            )

    def _numbers(self, frame):
        columns = [numeric_values(frame[c], c) for c in self.numeric_columns_]
        if not columns:
            return np.empty((len(frame), 0))
        return np.column_stack(columns)

    def _codes(self, frame):
        codes = np.empty((len(frame), len(self.vocabularies_)), dtype=np.float32)
        for position, (name, vocabulary) in enumerate(
            zip(self.categorical_columns_, self.vocabularies_, strict=True)
        ):
            values = frame[name]
            index = vocabulary.get_indexer(values)
            column = np.where(index >= 0, index + 2, RARE_CODE)
            column[np.asarray(pd.isna(values))] = MISSING_CODE
            codes[:, position] = column
        return codes

    def _target_inputs(self, frame):
        """The target-encoded columns as integers: a category's position among
        the training values, -1 for a missing value, -2 for a new category."""
        inputs = np.empty((len(frame), len(self.target_encoded_)), dtype=np.int64)
        for k, position in enumerate(self.target_encoded_):
            values = frame[self.categorical_columns_[position]]
            index = self._levels[k].get_indexer(values)
            missing = np.asarray(pd.isna(values))
            inputs[:, k] = np.where(missing, -1, np.where(index < 0, -2, index))
        return inputs

    def _fit_target_encoding(self, frame, y, train, folds, random_state):
        self.target_encoder_ = None
        if not self.target_encoded_:
            return np.empty((len(frame), 0))
        self._levels = [
            pd.Index(frame[self.categorical_columns_[p]][train].dropna().unique())
            for p in self.target_encoded_
        ]
        inputs = self._target_inputs(frame)
        self.target_encoder_ = TargetEncoder(target_type="binary")
        self.target_encoder_.fit(inputs[train], y[train])
        encoded = self.target_encoder_.transform(inputs)
        # Cross-fitted on the training rows: a row's value never uses its own label.
        rows = np.flatnonzero(train)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
        for fit_rows, held_rows in splitter.split(rows, y[rows]):
            fold = TargetEncoder(target_type="binary")
            fold.fit(inputs[rows[fit_rows]], y[rows[fit_rows]])
            encoded[rows[held_rows]] = fold.transform(inputs[rows[held_rows]])
        return encoded

    def _target_encodings(self, frame):
        if self.target_encoder_ is None:
            return np.empty((len(frame), 0))
        return self.target_encoder_.transform(self._target_inputs(frame))

    def _packed(self, frame, numbers, encoded_targets):
        return self._packed_parts(numbers, encoded_targets, self._codes(frame))

    def _packed_parts(self, numbers, encoded_targets, codes):
        layout = self.layout_
        packed = np.empty((len(numbers), layout.width), dtype=np.float32)
        missing = np.isnan(numbers)
        filled = np.where(missing, self.fill_, numbers)
        n_numbers = numbers.shape[1]
        packed[:, :n_numbers] = filled
        packed[:, n_numbers : layout.n_scaled] = encoded_targets
        packed[:, layout.n_scaled : layout.n_numeric] = missing[:, self.indicators_]
        packed[:, layout.n_numeric :] = codes
        return packed
