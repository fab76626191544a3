"""Validation rows read from disk once per fit, then held in memory when few."""

import torch
from torch.utils.data import Dataset

from .batches import ArrayDataset, accepts_index_arrays
from .index import chunk_bounds
from .rows import passing_through

# Validation rows of a dataset read from disk are held in memory up to this size
# (250,000 rows of 64 float32 features); a larger split is read each epoch.
HELD_MIB = 64
_READ_ROWS = 8192


class ReadOnce(Dataset):
    """A dataset's rows read in one pass in storage order the first time any row is
    asked for, then served from memory.

    The classifier wraps the validation split of a dataset that reads in blocks
    (:class:`~skimb.data.SQLiteDataset`) in it when the split takes at most
    ``HELD_MIB`` MiB: the first epoch's validation pass reads the rows, and every
    later validation pass and the threshold pass read nothing. Memory stays bounded
    whatever the size of the file; the rows are let go with the fit's datasets.

    Parameters
    ----------
    dataset : torch Dataset
        Rows that answer ``__getitems__`` with a slice, as skimb's datasets do.
    """

    #: Serves batches from an :class:`ArrayDataset`: index arrays and slices.
    accepts_index_arrays = True

    def __init__(self, dataset):
        self.dataset = dataset
        self._rows = None

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self._held()[i]

    def __getitems__(self, indices):
        return self._held().__getitems__(indices)

    def _held(self):
        if self._rows is None:
            # Held here, these rows need no room in the dataset's block cache,
            # which keeps the training blocks the next epoch starts with.
            with passing_through(self.dataset):
                self._rows = self._read()
        return self._rows

    def _read(self):
        n, X, y = len(self.dataset), None, None
        for start, stop in chunk_bounds(n, size=_READ_ROWS):
            X_part, y_part = self.dataset.__getitems__(slice(start, stop))
            if X is None:  # filled in place: no second copy at the peak
                X = torch.empty((n, *X_part.shape[1:]), dtype=torch.float32)
                y = torch.empty((n, *y_part.shape[1:]), dtype=torch.float32)
            X[start:stop], y[start:stop] = X_part, y_part
        return ArrayDataset(X, y)  # targets (and weights) as encoded


class PassingThrough(Dataset):
    """A dataset's rows read without filling the block cache of the dataset under
    it (:meth:`~skimb.data.SQLiteDataset.passing_through`).

    The classifier reads a validation split too large to hold through it: read
    again each epoch, its blocks would only push out of the cache the training
    blocks the next epoch opens with.

    Parameters
    ----------
    dataset : torch Dataset
        Rows that answer ``__getitems__`` with index arrays and slices.
    """

    #: Passes batches on to a dataset that takes index arrays and slices.
    accepts_index_arrays = True

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        with passing_through(self.dataset):
            return self.dataset[i]

    def __getitems__(self, indices):
        with passing_through(self.dataset):
            return self.dataset.__getitems__(indices)


def held_if_small(dataset, n_features):
    """``dataset`` wrapped in :class:`ReadOnce` when it is one of skimb's (batches
    as tensors) and its rows take at most ``HELD_MIB`` MiB as float32; a larger one
    of skimb's in :class:`PassingThrough`; any other as it is."""
    if dataset is None or not accepts_index_arrays(dataset):
        return dataset
    if len(dataset) * n_features * 4 > HELD_MIB * 2**20:
        return PassingThrough(dataset)
    return ReadOnce(dataset)
