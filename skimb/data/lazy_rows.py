"""What the datasets read from disk share: indexing into views, batches by index
arrays, storage order, and the per-thread switch that keeps a pass out of the
block cache.

A dataset using :class:`LazyRows` has ``_positions`` (its view's rows in storage
order, or None for every row), ``_fetch(indices)`` returning ``(features,
labels)`` arrays, ``_held``, ``_cache`` and a ``reader`` with a per-thread
``local``.
"""

import threading
from contextlib import contextmanager

import numpy as np
import torch

from .batches import Batch
from .index import view_positions


def check_cache_mib(cache_mib):
    """Raise unless ``cache_mib`` is a number >= 0."""
    if (
        isinstance(cache_mib, bool)
        or not isinstance(cache_mib, (int, float, np.integer, np.floating))
        or not cache_mib >= 0
    ):
        raise ValueError(f"cache_mib must be a number >= 0, got {cache_mib!r}")


class PerThreadReader:
    """What the readers of files on disk share: per-thread state in ``local``
    (handles, connections; dropped in a pickle and made again in the new process)
    and ``encoding``, the fitted table encoding rows are decoded by (None: read as
    numbers)."""

    def with_encoding(self, encoding):
        """A reader of the same data whose rows are decoded by ``encoding``."""
        reader = object.__new__(type(self))
        reader.__dict__.update(self.__dict__)
        reader.encoding = encoding
        return reader

    def __getstate__(self):
        state = self.__dict__.copy()
        state["local"] = None  # opened again lazily in the new process
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.local = threading.local()


class LazyRows:
    """``ds[i]`` a row, ``ds[rows]`` (an int array, a list, a slice or a boolean
    mask, also scikit-learn's ``ds[rows, ...]``) a view reading no data, and
    ``ds.__getitems__(indices)`` a batch, for a dataset read from disk."""

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing: ds[rows, ...]
            if len(key) != 2 or key[1] not in (Ellipsis, slice(None)):
                raise IndexError(
                    f"{type(self).__name__} supports ds[rows] and ds[rows, ...], "
                    f"got {key!r}"
                )
            key = key[0]
        if isinstance(key, (int, np.integer)):
            X, y = self._fetch(np.array([key]))
            return X[0], y[0]
        return self._view(key)

    def __getitems__(self, indices):
        if isinstance(indices, slice):
            indices = np.arange(*indices.indices(len(self)))
        X, y = self._fetch(np.asarray(indices, dtype=np.int64))
        return Batch((torch.from_numpy(X), torch.from_numpy(y)))

    def _view(self, key):
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._positions = view_positions(key, len(self), self._positions)
        return view

    @property
    def encoding(self):
        """The fitted table encoding rows are decoded by (:meth:`encoded_by`),
        else None."""
        return self.reader.encoding

    def encoded_by(self, encoding):
        """A view of these rows decoded by the fitted ``encoding`` (a
        :class:`~skimb.tables.TableEncoder` of the feature columns): one float32
        input row per row, with its own block cache."""
        view = self._view(slice(None))
        view.reader = self.reader.with_encoding(encoding)
        view.n_features = encoding.layout_.width
        view._cache = view._held = view._kept_after = None
        return view

    def storage_order(self):
        """Positions that put this view's rows in storage order (``ds[order]``
        reads near-sequentially), or None when they are in that order already."""
        positions = self._positions
        if positions is None or not np.any(positions[1:] < positions[:-1]):
            return None
        return np.argsort(positions, kind="stable")

    @property
    def held_rows(self):
        """The :class:`~skimb.data.block_cache.HeldRows` that ``hold_rows`` keeps,
        or None."""
        return self._held

    @property
    def block_cache(self):
        """This process's :class:`~skimb.data.block_cache.BlockCache`: None before
        the first read through it (and with ``cache_mib=0``)."""
        return self._cache

    @contextmanager
    def passing_through(self):
        """Within the block, this thread's reads leave the block cache as it is:
        blocks are still read whole, but not kept.

        For a pass over rows that the caller keeps itself (the classifier's
        validation rows, held after one read) or that is too large to keep (a
        large validation split, read each epoch): kept in the cache, their blocks
        would push out the training blocks the next epoch starts with.
        """
        local = self.reader.local
        before = getattr(local, "passing", False)
        local.passing = True
        try:
            yield self
        finally:
            local.passing = before
