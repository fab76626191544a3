"""Feature scaling inside the estimator, fitted on the training rows.

Networks train badly on raw features whose scales differ by orders of magnitude. The
classifier's ``scaling`` parameter fits a :class:`FeatureScaler` on the training rows
(after the validation split), streaming them batch by batch so that a
``SQLiteDataset`` is never loaded whole, and applies it to every batch the network
sees, in training and in prediction.
"""

import numpy as np
import torch

from .data.index import block_runs, concatenated_ranges, sorted_block_runs
from .data.sqlite import BLOCK_ROWS

SCALINGS = (None, "standard", "robust")

#: Training rows (at most, in whole blocks) the scaling statistics are taken from.
SCALING_SAMPLE_ROWS = 2**17
#: Rows sampled (at most) for the quantiles of robust scaling.
ROBUST_SAMPLE_ROWS = 100_000
#: Robust-scaled values are smoothly clipped to about +-CLIP (as RealMLP does).
CLIP = 3.0


class FeatureScaler:
    """Per-feature ``(x - center) / scale``, fitted on batches of training rows.

    Parameters
    ----------
    method : {"standard", "robust"}
        ``"standard"``: mean and standard deviation, exact, accumulated in float64.
        ``"robust"``: median and interquartile range, from a uniform sample of at
        most ``ROBUST_SAMPLE_ROWS`` rows, then the smooth clipping
        ``x / sqrt(1 + (x / 3) ** 2)`` of Holzmueller et al. (2024), which keeps
        outliers from dominating the first layer. A feature with zero spread
        (constant on the training rows) is centred and left unscaled.

    columns : int or None, default=None
        Scale only the first ``columns`` features and pass the others through (a
        table's missing-value indicators and category codes); None: all of them.

    Missing values (NaN) in the batches ``fit`` reads are left out of the
    statistics.

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_scaled_features,), float64

    Examples
    --------
    >>> import torch
    >>> X = torch.tensor([[1.0, 10.0], [3.0, 10.0]])
    >>> scaler = FeatureScaler("standard").fit([X])
    >>> scaler.center_.tolist(), scaler.scale_.tolist()
    ([2.0, 10.0], [1.0, 1.0])
    >>> scaler.transform(X).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """

    def __init__(self, method="standard", columns=None):
        if method not in ("standard", "robust"):
            raise ValueError(f"method={method!r} is not one of 'standard', 'robust'")
        self.method = method
        self.columns = columns

    def fit(self, batches, n_rows=None, generator=None):
        """Fit on an iterable of ``(n_i, n_features)`` tensors or arrays.

        ``n_rows`` (the total, when known) lets robust scaling sample rows
        uniformly in one pass; ``generator`` seeds that sample.
        """
        batches = (_float64(X)[:, : self.columns] for X in batches)
        if self.method == "standard":
            self.center_, self.scale_ = _mean_std(batches)
        else:
            sample = _row_sample(batches, n_rows, generator)
            quantile, std = (
                (np.nanquantile, np.nanstd)
                if np.isnan(sample).any()
                else (np.quantile, np.std)
            )
            low, self.center_, high = quantile(sample, [0.25, 0.5, 0.75], axis=0)
            spread = high - low
            # A feature whose middle half is one value (e.g. a mostly-zero count)
            # still varies: fall back to its standard deviation.
            spread = np.where(spread > 0, spread, std(sample, axis=0))
            self.scale_ = spread
        # a feature with no observed value (all missing) is left as it is
        self.center_ = np.nan_to_num(self.center_, nan=0.0)
        self.scale_ = np.where(self.scale_ > 0, self.scale_, 1.0)
        self._tensors = {}
        return self

    def transform(self, X):
        """Scale a float tensor of shape ``(n, n_features)`` on its own device."""
        columns = getattr(self, "columns", None)
        if columns is not None and columns < X.shape[1]:
            scaled = self._scaled(X[:, :columns])
            return torch.cat([scaled, X[:, columns:]], dim=1)
        return self._scaled(X)

    def _scaled(self, X):
        center, scale = self._on(X.device, X.dtype)
        X = (X - center) / scale
        if self.method == "robust":
            X = X / torch.sqrt(1 + (X / CLIP) ** 2)
        return X

    def _on(self, device, dtype):
        key = (device, dtype)
        if key not in self._tensors:
            self._tensors[key] = tuple(
                torch.as_tensor(a, dtype=dtype, device=device)
                for a in (self.center_, self.scale_)
            )
        return self._tensors[key]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tensors"] = {}  # device copies are rebuilt where it is unpickled
        return state


def scaling_sample(stored_at, generator):
    """Which training rows the scaling statistics are taken from: None (all of
    them) up to ``SCALING_SAMPLE_ROWS`` rows; past it, the rows of whole blocks of
    ``BLOCK_ROWS`` stored rows, blocks drawn at random until the sample has
    ``SCALING_SAMPLE_ROWS`` rows.

    Whole blocks, because a table on disk reads a block with one range query: the
    scaling pass over a large table then costs a fixed ~130,000 rows instead of a
    full read. Blocks drawn from the whole file keep the estimate unbiased (a
    cluster sample): the mean and spread of 130,000 rows are within a fraction of
    a percent of the full data's, far below what scaling needs. ``stored_at`` is
    each training row's position in storage (ascending), so arrays and tables are
    sampled alike (in any order; ascending is cheapest).
    """
    if len(stored_at) <= SCALING_SAMPLE_ROWS:
        return None
    # Rows in storage order (as the classifier has them): their blocks' runs, cut
    # a chunk at a time.
    cut, by_block = block_runs(len(stored_at), BLOCK_ROWS, stored_at), None
    if cut is None:  # in another order: the rows sorted by block first
        by_block, starts, rows_per_block = sorted_block_runs(stored_at, BLOCK_ROWS)
    else:
        starts, rows_per_block = cut
    order = torch.randperm(len(starts), generator=generator).numpy()
    enough = np.searchsorted(np.cumsum(rows_per_block[order]), SCALING_SAMPLE_ROWS)
    chosen = np.sort(order[: enough + 1])
    rows = concatenated_ranges(starts[chosen], rows_per_block[chosen])
    return rows if by_block is None else np.sort(by_block[rows])


def _mean_std(batches):
    """Exact mean and standard deviation in float64, merging per-batch moments
    (Chan et al.); per feature over its observed (not NaN) values."""
    count, mean, m2, rows = 0, 0.0, 0.0, 0
    for X in batches:
        rows += X.shape[0]
        if X.shape[0] == 0:
            continue
        observed = ~np.isnan(X)
        if observed.all():
            n_b = X.shape[0]
            mean_b = X.mean(axis=0)
            m2_b = ((X - mean_b) ** 2).sum(axis=0)
        else:
            n_b = observed.sum(axis=0)
            mean_b = np.nansum(X, axis=0) / np.maximum(n_b, 1)
            m2_b = np.nansum((X - mean_b) ** 2, axis=0)
        delta = mean_b - mean
        total = count + n_b
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = mean + delta * (n_b / total)
            m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        if not np.isscalar(total):  # a feature with no value yet stays at 0
            mean, m2 = np.where(total > 0, mean, 0.0), np.where(total > 0, m2, 0.0)
        count = total
    if rows == 0:
        raise ValueError("cannot fit feature scaling on zero training rows")
    return np.asarray(mean), np.sqrt(np.asarray(m2) / np.maximum(count, 1))


def _row_sample(batches, n_rows, generator):
    keep = 1.0 if not n_rows else min(1.0, ROBUST_SAMPLE_ROWS / n_rows)
    parts = []
    for X in batches:
        if keep < 1.0:
            mask = torch.rand(X.shape[0], generator=generator).numpy() < keep
            X = X[mask]
        parts.append(X)
    sample = np.concatenate(parts) if parts else np.empty((0, 0))
    if sample.shape[0] == 0:
        raise ValueError("cannot fit feature scaling on zero training rows")
    return sample


def _float64(X):
    if isinstance(X, torch.Tensor):
        X = X.detach().to("cpu")
        return X.reshape(X.shape[0], -1).to(torch.float64).numpy()
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(X.shape[0], -1)
