"""Index arithmetic over row numbers, a chunk of rows at a time.

The lowest layer of :mod:`skimb.data`: plain NumPy on label vectors and row
numbers, knowing nothing of datasets. Every scan here walks its arrays in chunks of
``SCAN_ROWS`` (:func:`chunk_bounds`), so that a table of millions of rows never
costs a temporary as long as it.
"""

import numpy as np

# Rows scanned at a time: int64 temporaries of a chunk stay under 1 MiB (larger ones
# land in the heap and stay: glibc raises its mmap threshold after a large free).
SCAN_ROWS = 1 << 16


def chunk_bounds(stop, start=0, size=None):
    """``(first, last)`` of the consecutive chunks of at most ``size`` rows (default
    ``SCAN_ROWS``) that cover the rows ``start .. stop - 1``.

    Examples
    --------
    >>> list(chunk_bounds(10, size=4))
    [(0, 4), (4, 8), (8, 10)]
    """
    size = SCAN_ROWS if size is None else size
    for first in range(start, stop, size):
        yield first, min(first + size, stop)


def compact_index_dtype(n):
    """int32 for indices into fewer than 2**31 rows (half of int64's memory), else
    int64."""
    return np.int32 if n < 2**31 else np.int64


def positions_of(flags, value=True, start=0, stop=None):
    """``np.flatnonzero(flags[start:stop] == value) + start`` as compact ints
    (:func:`compact_index_dtype` of ``len(flags)``), built a chunk at a time: no
    int64 array of every position (8 bytes a row) on the way, and no second copy
    of the result (the rows are counted first)."""
    stop = len(flags) if stop is None else stop
    count = count_equal(flags, value, start, stop)
    out = np.empty(count, dtype=compact_index_dtype(len(flags)))
    filled = 0
    for first, last in chunk_bounds(stop, start):
        found = np.flatnonzero(flags[first:last] == value)
        out[filled : filled + found.size] = found + first
        filled += found.size
    return out


def count_equal(values, value, start=0, stop=None):
    """``np.count_nonzero(values[start:stop] == value)``, a chunk at a time (no
    array of flags as long as ``values``)."""
    stop = len(values) if stop is None else stop
    return sum(
        int(np.count_nonzero(values[first:last] == value))
        for first, last in chunk_bounds(stop, start)
    )


def byte_value_counts(values):
    """``{value: count}`` of a 1-byte integer or bool array (int8 labels, read from
    a table), counted a chunk at a time: no sorted copy (``np.unique``) and no array
    of flags as long as ``values``.

    Examples
    --------
    >>> byte_value_counts(np.array([0, 1, 1, -3], dtype=np.int8))
    {-3: 1, 0: 1, 1: 2}
    """
    values = np.asarray(values)
    if values.dtype.itemsize != 1 or values.dtype.kind not in "iub":
        raise TypeError(f"byte_value_counts needs 1-byte ints, got {values.dtype}")
    counts = np.zeros(256, dtype=np.int64)
    flat = values.reshape(-1).view(np.uint8)
    for first, last in chunk_bounds(flat.size):
        counts += np.bincount(flat[first:last], minlength=256)
    present = np.flatnonzero(counts)
    keys = present.astype(np.uint8).view(values.dtype)  # the bytes read back
    order = np.argsort(keys, kind="stable")
    return {
        k.item(): int(c)
        for k, c in zip(keys[order], counts[present][order], strict=True)
    }


def arange_into(out, start=0):
    """``out[:] = np.arange(start, start + len(out))`` a chunk at a time (no int64
    array of its length); returns ``out``."""
    for first, last in chunk_bounds(out.size):
        out[first:last] = np.arange(start + first, start + last)
    return out


def is_consecutive(indices):
    """Whether the non-empty int array ``indices`` is ``first, first + 1, ...``
    (checked in chunks: no array of differences as long as it)."""
    if int(indices[-1]) - int(indices[0]) != indices.size - 1:
        return False
    for first, last in chunk_bounds(indices.size - 1):
        chunk = indices[first : last + 1]  # one row of overlap: each step checked
        if not np.all(chunk[1:] - chunk[:-1] == 1):
            return False
    return True


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
    ``row // block_size``), computed ``chunk`` rows (default ``SCAN_ROWS``) at a
    time: no array of block numbers as long as the rows. None when the rows are not
    stored in ascending order."""
    if storage_positions is None:
        starts = np.arange(0, n_rows, block_size, dtype=np.int64)
        return starts, np.minimum(block_size, n_rows - starts)
    starts, last_key = [], None
    for first, last in chunk_bounds(n_rows, size=chunk):
        keys = storage_positions[first:last] // block_size
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


class ReadUnits:
    """How a storage read one unit at a time is laid out, for the samplers.

    Unit ``u`` holds the stored positions ``[u * unit_rows, (u + 1) * unit_rows)``
    (some of them: a unit may hold fewer rows); it is decoded whole, and the
    units of one stream (the slices of one large Parquet row group) are read
    fastest in ascending order. ``lanes`` units at a time fit the reader's cache
    (with room for as many again while the order moves on to the next ones).

    Parameters
    ----------
    unit_rows : int
        Stored positions per unit.
    stream_starts : array-like of int
        The first unit of each stream, ascending, starting at 0.
    lanes : int
        Units the order reads from at once.
    """

    def __init__(self, unit_rows, stream_starts, lanes):
        self.unit_rows = int(unit_rows)
        self.stream_starts = np.asarray(stream_starts, dtype=np.int64)
        self.lanes = int(lanes)

    @property
    def n_streams(self):
        return self.stream_starts.size

    def stream_of(self, units):
        """The stream of each of these units."""
        return np.searchsorted(self.stream_starts, units, side="right") - 1


class StoredPositions(np.ndarray):
    """Storage positions (an int64 array) that carry their storage's
    :class:`ReadUnits` as ``read_units``: the samplers cut their blocks over the
    positions and visit them unit by unit (:class:`~skimb.samplers._Blocks`).
    Indexing keeps them; ``np.asarray`` gives the plain positions."""

    read_units = None

    def __array_finalize__(self, obj):
        self.read_units = getattr(obj, "read_units", None)


def stored_positions(positions, read_units):
    """``positions`` as :class:`StoredPositions` carrying ``read_units``."""
    stored = np.asarray(positions, dtype=np.int64).view(StoredPositions)
    stored.read_units = read_units
    return stored


def view_positions(key, n, parent):
    """The rows of a view ``ds[key]`` of ``n`` rows, as positions in the rows
    under it (``parent``: a view's own positions, or None for all of them)."""
    positions = np.arange(n)[key] if isinstance(key, slice) else np.asarray(key)
    if positions.dtype == bool:
        if positions.shape != (n,):
            raise IndexError(
                f"boolean mask of shape {positions.shape} does not match {n} rows"
            )
        positions = np.flatnonzero(positions)
    if positions.size and not np.issubdtype(positions.dtype, np.integer):
        raise IndexError(
            f"rows must be ints or a boolean mask, got dtype {positions.dtype}"
        )
    positions = positions.astype(np.int64).ravel()
    if positions.size and (positions.min() < -n or positions.max() >= n):
        raise IndexError(f"row index out of range for {n} rows")
    positions = np.where(positions < 0, positions + n, positions)
    return positions if parent is None else parent[positions]
