"""skorch's default validation split, without its per-row working memory.

``ValidSplit(5, stratified=True)`` keeps the first fold of scikit-learn's
``StratifiedKFold(5)``. Making it encodes the labels, sorts them and assigns a fold
to every row: about 50 bytes a row at the peak (200 MiB for 4 million rows), on a
path (a fit of a ``SQLiteDataset``) whose whole point is that memory does not grow
with the table. For two classes that fold has a closed form, and this module
computes it with a bit of working memory per row and the two index arrays it
returns (int32 below 2**31 rows). The result is the same rows, in the same order
(tested against skorch's ``ValidSplit``); anything else — another ``cv``, a class
with fewer rows than folds (scikit-learn then warns) — is left to skorch.
"""

import numbers

import numpy as np
from sklearn.model_selection import StratifiedKFold
from skorch.dataset import ValidSplit

from .index import byte_value_counts, chunk_bounds, compact_index_dtype, positions_of
from .row_runs import RowRuns


def stratified_folds(train_split):
    """``k`` when ``train_split`` is skorch's own ``ValidSplit(k, stratified=True)``
    with an integer ``k`` (the first fold of ``StratifiedKFold(k)``), else None."""
    if type(train_split) is not ValidSplit or not train_split.stratified:
        return None
    cv = train_split.cv
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral):
        return None
    return int(cv)


def light_valid_split(train_split, y):
    """The ``(train, valid)`` row indices ``train_split(dataset, y)`` would give, when
    ``train_split`` is skorch's stratified ``ValidSplit`` with an integer ``cv`` and
    ``y`` holds 0/1 labels of both classes; else None (use ``train_split``)."""
    cv = stratified_folds(train_split)
    if cv is None or cv < 2:
        return None
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "biuf":
        return None
    if y.dtype.itemsize == 1 and y.dtype.kind in "biu":  # a table's int8 labels
        counts = byte_value_counts(y)
        n_positive, n_negative = counts.get(1, 0), counts.get(0, 0)
        positive = y.view(bool)  # read as flags where they are 0/1: no copy
    else:
        positive = y == 1
        n_positive = int(np.count_nonzero(positive))
        n_negative = int(np.count_nonzero(y == 0))
    if n_positive + n_negative != len(y):
        return None  # not 0/1
    if min(n_positive, n_negative) < cv:
        return None  # scikit-learn warns (or raises) there: let it
    return first_stratified_fold(positive, cv)


def first_stratified_fold(positive, n_splits):
    """``(train, test)`` indices of the first fold of ``StratifiedKFold(n_splits)``
    (no shuffle) for the two classes marked by the boolean array ``positive``.

    scikit-learn orders the classes by first appearance, deals the sorted labels to
    the folds round robin, and gives each fold its class's rows in index order. So
    the first fold holds the first ``ceil(c0 / n_splits)`` rows of the class that
    appears first (``c0`` of them in all) and the first
    ``ceil(n / n_splits) - ceil(c0 / n_splits)`` rows of the other.
    """
    positive = np.asarray(positive, dtype=bool)
    n = len(positive)
    first_is_positive = bool(positive[0])
    n_positive = int(np.count_nonzero(positive))
    n_first = n_positive if first_is_positive else n - n_positive
    in_fold_first = -(-n_first // n_splits)
    in_fold_other = -(-n // n_splits) - in_fold_first
    # The fold holds rows of each class up to (not including) its cut.
    cut_first = _after_nth(positive, first_is_positive, in_fold_first)
    cut_other = _after_nth(positive, not first_is_positive, in_fold_other)
    low, high = sorted((cut_first, cut_other))
    # Below `low` every row is in the fold, from `high` on none is; between them
    # the rows of the class cut later.
    later_is_positive = (
        first_is_positive if cut_first > cut_other else not first_is_positive
    )
    # A run, the middle stretch's rows of one class, a run: only the stretch (a
    # few thousand rows of a shuffled table) is held as an array.
    dtype = compact_index_dtype(n)
    in_fold = positions_of(positive, later_is_positive, low, high)
    out_of_fold = positions_of(positive, not later_is_positive, low, high)
    test = RowRuns([range(0, low), in_fold], dtype)
    train = RowRuns([out_of_fold, range(high, n)], dtype)
    if len(test) != in_fold_first + in_fold_other:
        raise AssertionError(
            f"fold of {len(test)} rows, expected {in_fold_first + in_fold_other}"
        )
    return train, test


def _after_nth(positive, value, count):
    """One past the position of the ``count``-th row whose mark is ``value`` (0 for
    ``count == 0``)."""
    if count == 0:
        return 0
    seen = 0
    for start, stop in chunk_bounds(len(positive)):  # as positions_of scans
        chunk = positive[start:stop] == value
        here = int(np.count_nonzero(chunk))
        if seen + here >= count:
            return start + int(np.flatnonzero(chunk)[count - seen - 1]) + 1
        seen += here
    raise ValueError(f"fewer than {count} rows of the class")


def fold_of_rows(y, n_folds, seed):
    """Each row's fold, ``(n,)`` int16, in scikit-learn's
    ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)`` over ``y``: fold
    ``j``'s rows are the validation rows of that splitter's ``j``-th split.

    Examples
    --------
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> folds = fold_of_rows(y, 4, seed=0)
    >>> sorted(np.bincount(folds).tolist()), np.bincount(folds[y == 1]).tolist()
    ([3, 3, 3, 3], [1, 1, 1, 1])
    """
    y = np.asarray(y)
    folds = np.empty(len(y), np.int16)
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    for fold, (_, valid) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
        folds[valid] = fold
    return folds
