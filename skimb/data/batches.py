"""Batched access to in-memory arrays: one indexing operation per batch."""

import numpy as np
import torch
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate


class Batch(tuple):
    """An ``(X, y)`` batch that a dataset's ``__getitems__`` has already assembled.

    :func:`collate` passes it through untouched; anything else goes to torch's
    ``default_collate``.
    """


def collate(data):
    """``collate_fn`` for a pre-assembled :class:`Batch` or a list of rows."""
    if isinstance(data, Batch):
        return tuple(data)
    return default_collate(data)


class ArrayDataset(Dataset):
    """``X`` (and optionally ``y``) held as tensors, fetched a whole batch at a time.

    The DataLoader calls ``__getitems__`` with a batch's indices; it answers with one
    tensor-indexing operation instead of collating rows one by one, which is where a
    plain skorch ``Dataset`` spends most of an epoch. Pair it with :func:`collate`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features, converted to a float32 tensor once.
    y : array-like of shape (n_samples,) or None, default=None
        Targets, converted to a float32 tensor once; ``None`` for prediction.
    device : str or torch.device or None, default=None
        Where to keep the tensors. ``None`` keeps them in CPU memory; a CUDA device
        keeps the whole set on the GPU for the fit, so batches need no host-to-device
        copy.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Row weights for the loss. With them, a batch's targets are a ``(n, 2)``
        tensor: the target in column 0, the row's weight in column 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.data import ArrayDataset
    >>> ds = ArrayDataset(np.eye(3), np.array([0, 1, 0]))
    >>> X, y = ds.__getitems__([2, 0])
    >>> X.shape, y.tolist()
    (torch.Size([2, 3]), [0.0, 0.0])
    """

    def __init__(self, X, y=None, device=None, sample_weight=None):
        self.X = _as_float_tensor(X, device)
        self.y = None if y is None else _as_float_tensor(y, device)
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(
                f"X and y have different lengths: {len(self.X)} and {len(self.y)}"
            )
        if sample_weight is not None and self.y is not None:
            weights = _as_float_tensor(sample_weight, device)
            self.y = torch.stack([self.y.reshape(-1), weights], dim=1)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(()))

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, dtype=torch.long, device=self.X.device)
        y = self.y[index] if self.y is not None else torch.zeros(len(index))
        return Batch((self.X[index], y))


def _as_float_tensor(a, device):
    if isinstance(a, torch.Tensor):
        tensor = a.to(torch.float32)
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return tensor.to(device) if device is not None else tensor


class EncodedTargets(Dataset):
    """A user's dataset whose targets are mapped to 1.0 (positive) and 0.0 (negative).

    The classifier wraps datasets in it so that the loss always sees float 0/1 targets,
    whatever labels the dataset stores. Batched access (``__getitems__``) is kept.
    With ``sample_weight`` (one weight per row of ``dataset``), targets are pairs
    ``(target, weight)``, as in :class:`ArrayDataset`.
    """

    def __init__(self, dataset, positive_label, sample_weight=None):
        self.dataset = dataset
        self.positive_label = positive_label
        self.sample_weight = (
            None if sample_weight is None else np.asarray(sample_weight, np.float32)
        )

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        return x, self._encode(y, i)

    def __getitems__(self, indices):
        if callable(getattr(self.dataset, "__getitems__", None)):
            rows = self.dataset.__getitems__(indices)
        else:
            rows = [self.dataset[i] for i in indices]
        if isinstance(rows, Batch):
            X, y = rows
            return Batch((X, self._encode(y, indices)))
        return [
            (x, self._encode(y, i)) for (x, y), i in zip(rows, indices, strict=True)
        ]

    def _encode(self, y, index):
        if isinstance(y, torch.Tensor):
            target = (y == self.positive_label).to(torch.float32)
        else:
            target = torch.as_tensor(np.float32(np.asarray(y) == self.positive_label))
        if self.sample_weight is None:
            return target
        weight = torch.as_tensor(self.sample_weight[np.asarray(index)])
        return torch.stack([target.reshape(weight.shape), weight], dim=-1)
