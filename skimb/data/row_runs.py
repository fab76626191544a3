"""Ascending row numbers held as runs and short lists, read as the int array they are.

The validation split of a fit (:func:`skimb.data.split.first_stratified_fold`) keeps
every row before a cut, the rows of one class in the short stretch between the two
classes' cuts, and every row after it: a run, a list, a run. As int32 arrays the two
parts would cost 4 bytes a row for the whole fit, growing with the table.
:class:`RowRuns` holds the runs as
``range`` objects and only the stretch as an array, and answers what the fit asks
of the row numbers (a row, a slice, the rows at a batch's positions) with arrays of
the asked size.
"""

import numbers

import numpy as np

from .index import arange_into, chunk_bounds


class RowRuns(np.lib.mixins.NDArrayOperatorsMixin):
    """Ascending row numbers: ``pieces`` (each a ``range`` with step 1, or a 1-d int
    array) one after the other, read as one int array of ``dtype``.

    ``rows[i]`` is an int; ``rows[slice]``, ``rows[int_array]`` and
    ``rows[bool_mask]`` are arrays. Arithmetic and NumPy functions (``rows // 4``,
    ``np.unique(rows)``) and ``np.asarray(rows)`` work on the whole array, built for
    them (for code that needs one: it costs what ``RowRuns`` saves).

    Examples
    --------
    >>> rows = RowRuns([range(0, 3), np.array([5, 8]), range(10, 12)], np.int32)
    >>> len(rows), rows[3], rows[-1], rows[2:5].tolist()
    (7, 5, 11, [2, 5, 8])
    >>> np.asarray(rows).tolist()
    [0, 1, 2, 5, 8, 10, 11]
    """

    ndim = 1

    def __init__(self, pieces, dtype):
        self._pieces = [p for p in pieces if len(p)]
        for piece in self._pieces:
            if isinstance(piece, range) and piece.step != 1:
                raise ValueError(f"runs must have step 1, got {piece}")
        lengths = [len(p) for p in self._pieces]
        self._offsets = np.cumsum([0, *lengths])  # where each piece starts
        self.dtype = np.dtype(dtype)

    @property
    def size(self):
        return int(self._offsets[-1])

    @property
    def shape(self):
        return (self.size,)

    def __len__(self):
        return self.size

    def min(self):
        return self[0]

    def max(self):
        return self[-1]

    def is_one_run(self):
        """Whether the rows are held as one run (or none): consecutive rows."""
        return len(self._pieces) == 0 or (
            len(self._pieces) == 1 and isinstance(self._pieces[0], range)
        )

    def __array__(self, dtype=None, copy=None):
        out = self.take_slice(0, self.size)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [np.asarray(x) if isinstance(x, RowRuns) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step == 1:
                return self.take_slice(start, max(stop, start))
            return self.take(np.arange(start, stop, step))
        if isinstance(key, numbers.Integral):
            i = int(key) + (self.size if key < 0 else 0)
            if not 0 <= i < self.size:
                raise IndexError(f"row {key} out of range for {self.size} rows")
            piece = int(np.searchsorted(self._offsets, i, "right")) - 1
            return int(self._pieces[piece][i - self._offsets[piece]])
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != self.shape:
                raise IndexError(
                    f"boolean mask of shape {key.shape} does not match {self.size} rows"
                )
            return self._take_mask(key)
        return self.take(key)

    def take(self, positions):
        """The rows at ``positions`` (ints, negative from the end), as an array."""
        positions = np.asarray(positions)
        if positions.size and not np.issubdtype(positions.dtype, np.integer):
            raise IndexError(f"positions must be ints, got dtype {positions.dtype}")
        positions = np.where(positions < 0, positions + self.size, positions)
        if positions.size and (positions.min() < 0 or positions.max() >= self.size):
            raise IndexError(f"position out of range for {self.size} rows")
        out = np.empty(positions.shape, self.dtype)
        for piece, first, stop in self._spans():
            here = (positions >= first) & (positions < stop)
            within = positions[here] - first
            out[here] = (
                piece.start + within if isinstance(piece, range) else piece[within]
            )
        return out

    def take_slice(self, start, stop):
        """``rows[start:stop]`` as an array (filled a piece at a time)."""
        out = np.empty(max(stop - start, 0), self.dtype)
        for piece, first, end in self._spans():
            low, high = max(start, first), min(stop, end)
            if low >= high:
                continue
            part = out[low - start : high - start]
            if isinstance(piece, range):
                arange_into(part, piece.start + (low - first))
            else:
                part[:] = piece[low - first : high - first]
        return out

    def take_from(self, values):
        """``values[rows]``: the entries of ``values`` at these rows."""
        values = np.asarray(values)
        out = np.empty(self.size, values.dtype)
        for piece, first, stop in self._spans():
            if isinstance(piece, range):
                out[first:stop] = values[piece.start : piece.stop]
            else:
                out[first:stop] = values[piece]
        return out

    def _take_mask(self, mask):
        """``rows[mask]`` for a boolean mask over the rows, a chunk at a time."""
        found = []
        for first, last in chunk_bounds(self.size):
            where = np.flatnonzero(mask[first:last]) + first
            found.append(self.take(where))
        return np.concatenate(found) if found else np.zeros(0, self.dtype)

    def _spans(self):
        for piece, first, stop in zip(
            self._pieces, self._offsets[:-1], self._offsets[1:], strict=True
        ):
            yield piece, int(first), int(stop)

    def __repr__(self):
        shown = ", ".join(
            f"range({p.start}, {p.stop})"
            if isinstance(p, range)
            else f"{p.size} listed"
            for p in self._pieces
        )
        return f"RowRuns([{shown}], {self.dtype})"
