"""The training rows of a fit: their width, labels and storage order."""

from contextlib import contextmanager, nullcontext

import numpy as np
from torch.utils.data import Subset

from . import batches
from .batches import EncodedTargets, IndexSubset, count_equal, positions_of
from .row_runs import RowRuns
from .sqlite import SQLiteDataset


def dataset_width(dataset):
    """Number of features of a dataset's rows."""
    shape = getattr(dataset, "shape", None)
    if shape is not None and len(shape) == 2:
        return int(shape[1])
    x = dataset[0][0]
    return int(np.prod(np.shape(x)))


def subset_labels(dataset_train, y):
    """0/1 labels of the training rows, in the order of ``dataset_train``."""
    y = np.asarray(y)
    if isinstance(dataset_train, Subset) and len(dataset_train.dataset) == len(y):
        indices = dataset_train.indices
        if isinstance(indices, RowRuns):
            return indices.take_from(y)
        return y[np.asarray(indices)]
    if len(dataset_train) == len(y):
        return y
    raise ValueError(
        f"cannot tell the labels of the {len(dataset_train)} training rows: "
        "train_split should return torch Subsets of the data it is given"
    )


def sorted_subset(dataset):
    """A split's rows in storage order, mapped to the dataset one batch at a time."""
    if isinstance(dataset, Subset):
        if isinstance(dataset.indices, RowRuns):  # ascending, and kept as runs
            return IndexSubset(dataset.dataset, dataset.indices)
        indices = np.asarray(dataset.indices)
        if indices.ndim == 1:
            # scikit-learn's splitters give them ascending already: no copy then.
            if np.any(indices[1:] < indices[:-1]):
                indices = np.sort(indices)
            return IndexSubset(dataset.dataset, indices)
    return dataset


def in_storage_order(X, labels, sample_weight=None):
    """A SQLiteDataset view, its labels and row weights reordered by row id (for
    near-sequential reads); any other dataset as it is."""
    order = X._storage_order() if isinstance(X, SQLiteDataset) else None
    if order is None:
        return X, labels, sample_weight
    if len(labels) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(labels)} labels")
    if sample_weight is not None:
        sample_weight = sample_weight[order]
    return X[order], labels[order], sample_weight


def reads_in_blocks(dataset):
    """Whether ``dataset`` (under skimb's and torch's wrappers) reads fastest in
    storage order: it says so with ``reads_in_blocks = True``, as
    :class:`SQLiteDataset` does."""
    return bool(getattr(_root(dataset), "reads_in_blocks", False))


def runs_of(keys):
    """The runs of equal values of the sorted array ``keys``: ``(values, starts,
    counts)``, as ``np.unique(keys, return_index=True, return_counts=True)`` gives
    them, without the sorted copy and the argsort np.unique makes (16 bytes a row
    at their peak, which a fit over millions of rows on disk should not pay)."""
    keys = np.asarray(keys)
    starts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate([[0], starts]) if keys.size else starts
    counts = np.diff(np.append(starts, keys.size))
    return keys[starts], starts, counts


def block_runs(n_rows, block_size, storage_positions=None, chunk=None):
    """``(starts, counts)`` of the runs of rows ``0 .. n_rows - 1`` in one block
    (``runs_of`` of their block numbers: ``storage_positions // block_size``, or
    ``row // block_size``), computed a chunk of rows at a time: no array of block
    numbers as long as the rows. None when the rows are not stored in ascending
    order."""
    if storage_positions is None:
        starts = np.arange(0, n_rows, block_size, dtype=np.int64)
        return starts, np.minimum(block_size, n_rows - starts)
    chunk = batches.SCAN_ROWS if chunk is None else chunk
    starts, last_key = [], None
    for first in range(0, n_rows, chunk):
        keys = storage_positions[first : first + chunk] // block_size
        if np.any(keys[1:] < keys[:-1]) or (
            last_key is not None and keys[0] < last_key
        ):
            return None
        new_run = np.flatnonzero(keys[1:] != keys[:-1]) + 1 + first
        if last_key is None or keys[0] != last_key:
            starts.append(np.array([first]))
        starts.append(new_run)
        last_key = keys[-1]
    starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.append(starts, n_rows))
    return starts, counts


def sorted_block_runs(storage_positions, block_size):
    """:func:`block_runs` for rows stored in any order: ``(order, starts, counts)``,
    the rows sorted by block (a stable argsort of ``storage_positions //
    block_size``) and the runs of one block in that order."""
    keys = np.asarray(storage_positions) // block_size
    order = np.argsort(keys, kind="stable")
    _, starts, counts = runs_of(keys[order])
    return order, starts, counts


def concatenated_ranges(firsts, lengths):
    """``np.concatenate([np.arange(f, f + n) for f, n in zip(firsts, lengths)])``
    as one int64 array built in place (no second array of its length)."""
    firsts, lengths = np.asarray(firsts), np.asarray(lengths)
    keep = lengths > 0
    firsts, lengths = firsts[keep].astype(np.int64), lengths[keep]
    out = np.ones(int(lengths.sum()), dtype=np.int64)
    if out.size:
        # Steps of 1 within a range; at each range's start, the jump from the end
        # of the one before.
        out[0] = firsts[0]
        out[np.cumsum(lengths)[:-1]] = firsts[1:] - (firsts[:-1] + lengths[:-1] - 1)
        np.cumsum(out, out=out)
    return out


def cache_blocks(dataset):
    """Blocks the block cache of the dataset under skimb's and torch's wrappers
    holds (``cache_blocks()``, as :class:`SQLiteDataset` has), else 0."""
    own = getattr(_root(dataset), "cache_blocks", None)
    return int(own()) if callable(own) else 0


@contextmanager
def passing_through(dataset):
    """Read ``dataset`` without filling the block cache of the dataset under skimb's
    and torch's wrappers (:meth:`SQLiteDataset.passing_through`), where it has
    one."""
    own = getattr(_root(dataset), "passing_through", None)
    with own() if callable(own) else nullcontext():
        yield


def _root(dataset):
    while isinstance(dataset, (Subset, EncodedTargets)):
        dataset = dataset.dataset
    return dataset


def storage_positions(dataset):
    """Where each row of ``dataset`` sits in storage: the position the dataset
    under skimb's and torch's wrappers gives it (``storage_positions()``, as a
    SQLiteDataset view has), else its row number there."""
    root, rows = _root_and_rows(dataset)
    own = getattr(root, "storage_positions", None)
    if not callable(own):
        return rows
    if isinstance(root, SQLiteDataset):  # asked for these rows only: no full array
        return own(rows)
    return np.asarray(own())[rows]


def _root_and_rows(dataset):
    """The dataset under skimb's and torch's wrappers, and which of its rows each
    row of ``dataset`` is (the subset's own index array when it wraps the root
    directly: no copy)."""
    dataset = _unencoded(dataset)
    if not isinstance(dataset, Subset):
        return dataset, np.arange(len(dataset))
    inner, indices = _unencoded(dataset.dataset), dataset.indices
    if not isinstance(indices, RowRuns):  # the light split's runs stay runs
        indices = np.asarray(indices)
    if not isinstance(inner, Subset):
        return inner, indices
    root, rows = _root_and_rows(inner)
    return root, rows[indices]


def _unencoded(dataset):
    """``dataset`` without EncodedTargets wrappers (they keep its rows)."""
    while isinstance(dataset, EncodedTargets):
        dataset = dataset.dataset
    return dataset


# The rarer class's training rows of a dataset read from disk are held in memory up
# to this size (65,536 rows of 64 float32 features).
HELD_RARE_MIB = 16


def hold_rare_rows(dataset, labels):
    """Ask the dataset under ``dataset`` (its ``hold_rows``, as
    :class:`SQLiteDataset` has) to keep the rows of the rarer class in ``labels``
    in memory, up to ``HELD_RARE_MIB`` MiB: all of them when they fit, else the
    first that do (the others are read as before). Rows held for an earlier fit are
    let go."""
    root, rows = _root_and_rows(dataset)
    if not callable(getattr(root, "hold_rows", None)):
        return
    labels = np.asarray(labels)
    rare = 1 if 2 * count_equal(labels, 1) <= labels.size else 0
    fit_in = int(HELD_RARE_MIB * 2**20 // (dataset_width(root) * 4))
    # A bounded cache, full past the cap: a larger table holds no less (and no
    # more) than a smaller one.
    held = positions_of(labels, rare)[:fit_in]
    root.hold_rows(rows[held] if held.size else None)
