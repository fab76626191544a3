"""The training rows of a fit: their width, labels and storage order."""

import inspect
from contextlib import contextmanager, nullcontext

import numpy as np
from torch.utils.data import Subset

from .batches import EncodedTargets, IndexSubset
from .index import count_equal, positions_of
from .row_runs import RowRuns


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
    """A view, its labels and row weights reordered into storage order (for
    near-sequential reads), where ``X`` tells the order (``storage_order()``
    returning positions, as a :class:`~skimb.data.SQLiteDataset` view does, or None
    when its rows are in that order already); any other dataset as it is."""
    own = getattr(X, "storage_order", None)
    order = own() if callable(own) else None
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
    return bool(getattr(root_dataset(dataset), "reads_in_blocks", False))


def cache_blocks(dataset):
    """Blocks the block cache of the dataset under skimb's and torch's wrappers
    holds (``cache_blocks()``, as :class:`SQLiteDataset` has), else 0."""
    own = getattr(root_dataset(dataset), "cache_blocks", None)
    return int(own()) if callable(own) else 0


@contextmanager
def passing_through(dataset):
    """Read ``dataset`` without filling the block cache of the dataset under skimb's
    and torch's wrappers (:meth:`SQLiteDataset.passing_through`), where it has
    one."""
    own = getattr(root_dataset(dataset), "passing_through", None)
    with own() if callable(own) else nullcontext():
        yield


def wrapper_chain(dataset):
    """``dataset`` and the datasets under it, outermost first, through the wrappers
    that keep their rows in ``.dataset`` (torch's ``Subset`` and skimb's
    :class:`IndexSubset`, which pick rows, and :class:`EncodedTargets`, which keeps
    them all); the last is the dataset that holds the rows."""
    chain = [dataset]
    while isinstance(chain[-1], (Subset, EncodedTargets)):
        chain.append(chain[-1].dataset)
    return chain


def root_dataset(dataset):
    """The dataset under skimb's and torch's wrappers (:func:`wrapper_chain`)."""
    return wrapper_chain(dataset)[-1]


def root_and_rows(dataset):
    """The dataset under skimb's and torch's wrappers, and which of its rows each
    row of ``dataset`` is (the subset's own index array when one subset picks them:
    no copy)."""
    chain = wrapper_chain(dataset)
    picks = [_subset_rows(d) for d in chain if isinstance(d, Subset)]
    if not picks:
        return chain[-1], np.arange(len(chain[-1]))
    rows = picks.pop()
    while picks:
        rows = rows[picks.pop()]
    return chain[-1], rows


def _subset_rows(subset):
    indices = subset.indices
    # the light split's runs stay runs
    return indices if isinstance(indices, RowRuns) else np.asarray(indices)


def storage_positions(dataset):
    """Where each row of ``dataset`` sits in storage: the position the dataset
    under skimb's and torch's wrappers gives it (``storage_positions()``, as a
    SQLiteDataset view has; asked for these rows only where it takes a ``rows``
    argument), else its row number there."""
    root, rows = root_and_rows(dataset)
    own = getattr(root, "storage_positions", None)
    if not callable(own):
        return rows
    if "rows" in inspect.signature(own).parameters:  # no array of every position
        return own(rows)
    return np.asarray(own())[rows]


# The rarer class's training rows of a dataset read from disk are held in memory up
# to this size (65,536 rows of 64 float32 features).
HELD_RARE_MIB = 16
# Rows read for one pass (the scaling sample, 131,072 rows of 64 float32 features:
# 32 MiB) held in the same read as the rare rows, up to this size.
HELD_FOR_NOW_MIB = 64


def hold_rare_rows(dataset, labels, for_now=None):
    """Ask the dataset under ``dataset`` (its ``hold_rows``, as
    :class:`SQLiteDataset` has) to keep the rows of the rarer class in ``labels``
    in memory, up to ``HELD_RARE_MIB`` MiB: all of them when they fit, else the
    first that do (the others are read as before). Rows held for an earlier fit are
    let go.

    ``for_now``: rows of ``dataset`` the caller reads next (the scaling sample),
    held too, until :func:`let_go_for_now`, where the dataset reads both in one
    pass (``hold_rows(rows, for_now=...)``, as :class:`ParquetDataset` has) and
    they take at most ``HELD_FOR_NOW_MIB``; returns whether they were."""
    root, rows = root_and_rows(dataset)
    if not callable(getattr(root, "hold_rows", None)):
        return False
    labels = np.asarray(labels)
    rare = 1 if 2 * count_equal(labels, 1) <= labels.size else 0
    fit_in = int(HELD_RARE_MIB * 2**20 // (dataset_width(root) * 4))
    # A bounded cache, full past the cap: a larger table holds no less (and no
    # more) than a smaller one.
    held = positions_of(labels, rare)[:fit_in]
    held = rows[held] if held.size else None
    if for_now is not None and (
        "for_now" in inspect.signature(root.hold_rows).parameters
        and len(for_now) * dataset_width(root) * 4 <= HELD_FOR_NOW_MIB * 2**20
    ):
        root.hold_rows(held, for_now=rows[np.asarray(for_now)])
        return True
    root.hold_rows(held)
    return False


def let_go_for_now(dataset):
    """Let go of the rows :func:`hold_rare_rows` held for now."""
    root_dataset(dataset).let_go_for_now()
