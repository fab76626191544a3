"""Decoded blocks of consecutive stored rows, kept while recently used: the block
cache of the datasets read from disk (SQLite tables, Parquet files)."""

import os
import threading

import numpy as np
import torch

# Rows per cached block. A block is read whole with one range query, which runs at the
# speed of a sequential scan (about 5x a lookup by key per row).
BLOCK_ROWS = 256
BLOCK_BITS = BLOCK_ROWS.bit_length() - 1  # BLOCK_ROWS is a power of two
# A block is read whole only when a batch asks for at least this many of its rows
# (a window of a block shuffle, or a pass in row order over a split), ...
DENSE_ROWS = 8
# ... or when the batch as a whole asks for at least this many rows per block it
# touches (the batch that opens a block-shuffled window: it draws a few rows from
# each of the new window's blocks, and the rest from the last window's); other rows
# are read by key. A random batch over a large table asks about one per block.
DENSE_BATCH = 4
_NO_ROWS = np.empty(0, dtype=np.int64)


def capacity(cache_mib, n_features, n_blocks, block_rows=BLOCK_ROWS):
    """Blocks of ``block_rows`` rows of ``n_features`` float32 values that
    ``cache_mib`` MiB hold, at most ``n_blocks`` (0 for ``cache_mib=0``)."""
    if not cache_mib > 0:
        return 0
    block_bytes = block_rows * n_features * 4
    return min(int(cache_mib * 2**20 // block_bytes), n_blocks)


class BlockCache:
    """Decoded blocks in a fixed slab of ``capacity`` slots, least recently used out.

    Block ``b`` holds the stored rows ``[b * block_rows, (b + 1) * block_rows)`` (by
    position in storage order: a table's primary-key order). ``block_rows`` is a
    power of two: ``BLOCK_ROWS`` for a SQLite table, a read unit of a Parquet file.
    A block is read whole when a batch asks for at least ``dense_rows`` of its
    rows (``DENSE_ROWS``; 1 where rows cannot be read one by one);
    ``reads_into_slots``: the reader decodes a block straight into its slot
    (``read_block(block, into=...)``, a Parquet read unit), not into an array the
    cache then copies. Everything is a
    NumPy array indexed by block or slot, so a batch is served with a few
    vectorised operations whatever its number of blocks. Threads (e.g. joblib's
    threading backend) share it through ``lock``; a forked process makes its own
    (``pid``).

    Attributes
    ----------
    slot_of : ndarray of int32
        The slot of each block of the table, -1 where it is not cached.
    block_in : ndarray of int64
        The block in each slot, -1 where the slot is empty.
    """

    def __init__(
        self,
        n_blocks,
        capacity,
        n_features,
        block_rows=BLOCK_ROWS,
        dense_rows=None,
        reads_into_slots=False,
    ):
        self.capacity = capacity
        self.reads_into_slots = reads_into_slots
        self.block_rows = block_rows
        self.block_bits = block_rows.bit_length() - 1
        self.dense_rows = DENSE_ROWS if dense_rows is None else dense_rows
        # Pages cost memory only once a block is stored in them. Allocated by torch,
        # not NumPy: NumPy asks for transparent huge pages on arrays over 4 MiB, and
        # where the kernel compacts memory to make them (THP defrag "madvise"), the
        # first store into each slot takes several times longer.
        slab = torch.empty((capacity, block_rows, n_features), dtype=torch.float32)
        self.slab = slab.numpy()
        self.slab_rows = slab.view(-1, n_features)  # the slab as rows, for gathers
        self.slot_of = np.full(n_blocks, -1, dtype=np.int32)  # block -> slot
        self.block_in = np.full(capacity, -1, dtype=np.int64)  # slot -> block
        self.last_used = np.zeros(capacity, dtype=np.int64)  # batch count
        self.tick = 0
        self.lock = threading.Lock()
        self.pid = os.getpid()

    def store(self, block, slot, read_block):
        """Read ``block`` into ``slot``: ``read_block(block, into=slot's rows)``
        with ``reads_into_slots`` (decoded straight into the slab, no second
        copy), else ``read_block(block)`` copied in."""
        old = self.block_in[slot]
        if old >= 0:
            self.slot_of[old] = -1
            self.block_in[slot] = -1  # a failed read leaves the slot empty
        if self.reads_into_slots:
            read_block(block, into=self.slab[slot])
        else:
            features = read_block(block)
            self.slab[slot, : len(features)] = features
        self.slot_of[block], self.block_in[slot] = slot, block
        self.last_used[slot] = self.tick

    def fill(self, positions, X, read_block, skip=None, passing=False):
        """Fill the rows of X that the cache can serve; return the rows it cannot,
        other than those in ``skip`` (a mask, or None).

        ``positions`` are row numbers in the table's primary-key order. A block is
        read whole (``read_block(block)``: one range query, decoded once, kept while
        recently used) when a batch asks for at least ``DENSE_ROWS`` of its rows:
        the shuffled batches of :class:`~skimb.samplers.BlockShuffleSampler` (the
        next batches of the window ask for the rest) and passes in row order over a
        dense subset (the scaling and validation passes over a split), which a range
        read serves faster than lookups by key, and which the next epoch's batches
        then find in the cache. Random batches over a large table ask for a row or
        two per block, so they are read by key. ``passing``: blocks are still read
        whole, but not kept. Rows of X that are not served (those returned and those
        skipped) may be written with other rows' values: their caller fills them.
        """
        with self.lock:
            return self._fill(positions, X, read_block, skip, passing)

    def _fill(self, positions, X, read_block, skip, passing):
        blocks = positions >> self.block_bits  # // block_rows, a power of two
        slot_per_row = self.slot_of[blocks]
        cached = slot_per_row >= 0
        all_cached = bool(cached.all())
        self.tick += 1
        # Skipped rows (held positives, scattered over the table) do not count as
        # uses: the least recently used blocks are those the sampler has left.
        used = cached if skip is None else cached & ~skip
        self.last_used[slot_per_row[used]] = self.tick
        filled = None  # rows read passing through the cache
        if not all_cached:
            missing = ~cached if skip is None else ~cached & ~skip
            to_read = _NO_ROWS
            if missing.any():
                to_read = blocks_to_read(blocks, missing, slot_per_row, self.dense_rows)
            if passing:
                if len(to_read):
                    filled = to_read
            # Blocks this batch uses were just marked, so the least recently used
            # slots go first; rows of a block evicted here are read by key below.
            # More blocks than slots would evict each other: read by key.
            elif 0 < len(to_read) <= self.capacity:
                free = np.argpartition(self.last_used, len(to_read) - 1)
                for block, slot in zip(
                    to_read.tolist(), free[: len(to_read)].tolist(), strict=True
                ):
                    self.store(block, slot, read_block)
                slot_per_row = self.slot_of[blocks]
                cached = slot_per_row >= 0
        # One gather for the whole batch: a row whose block is not cached has slot
        # -1, which indexes the slab's last block (a wrong row, overwritten below or
        # by the caller).
        rows = self._slab_rows(slot_per_row, positions)
        if not all_cached:
            rows[rows < 0] += len(self.slab_rows)  # index_select takes none below 0
        # torch's index_select: 12 us a batch of 520 rows, against 19 for np.take.
        torch.index_select(
            self.slab_rows, 0, torch.from_numpy(rows), out=torch.from_numpy(X)
        )
        if filled is not None:
            cached = cached | fill_passing(
                filled, blocks, positions & (self.block_rows - 1), X, read_block
            )
        left = ~cached if skip is None else ~cached & ~skip
        return np.flatnonzero(left) if not all_cached else _NO_ROWS

    def _slab_rows(self, slots, positions):
        """Row of the slab (as ``(capacity * block_rows, n_features)``) that holds
        each position, given its block's slot."""
        offsets = positions & (self.block_rows - 1)
        return (slots.astype(np.int64) << self.block_bits) | offsets


def fill_passing(to_read, blocks, offsets, X, read_block):
    """Read the blocks ``to_read`` (ascending) whole and fill X's rows in them
    (at ``offsets`` in their blocks), keeping none; return which rows were
    filled."""
    filled = np.isin(blocks, to_read)
    order = np.flatnonzero(filled)
    order = order[np.argsort(blocks[order], kind="stable")]  # block by block
    per_block = np.bincount(
        np.searchsorted(to_read, blocks[order]), minlength=len(to_read)
    )
    ends = np.cumsum(per_block)
    for block, start, end in zip(
        to_read.tolist(), (ends - per_block).tolist(), ends.tolist(), strict=True
    ):
        here = order[start:end]
        X[here] = read_block(block)[offsets[here]]
    return filled


def blocks_to_read(blocks, missing, slot_per_row, dense_rows=DENSE_ROWS):
    """The blocks (ascending) a batch reads whole: those it asks for at least
    ``dense_rows`` rows of, or, when the batch asks for ``DENSE_BATCH`` rows per
    block it touches, every block it misses."""
    missing_blocks = blocks[missing]
    first = missing_blocks.min()
    rows_asked = np.bincount(missing_blocks - first)
    asked = np.flatnonzero(rows_asked)
    # The batch that opens a block-shuffled window asks a few rows of each of the
    # window's blocks (the rest of its rows come from the window before): read by
    # key, they would be read again, whole, by the next batch.
    touched = len(asked) + np.unique(slot_per_row[slot_per_row >= 0]).size
    if len(blocks) >= DENSE_BATCH * touched:
        return asked + first
    return np.flatnonzero(rows_asked >= dense_rows) + first


class HeldRows:
    """Decoded rows kept by table position; see :meth:`SQLiteDataset.hold_rows`
    (and ``ParquetDataset.hold_rows``).

    Which positions are held is also kept as one bit per table row (125 KB for a
    million rows): every batch asks, and a bit lookup costs a fraction of a binary
    search of the held positions.
    """

    def __init__(self, positions, features, n_table_rows):
        self.positions, self.features = positions, features
        # Set bit by bit (no array of a byte per table row on the way).
        self.bits = np.zeros(-(-n_table_rows // 8), dtype=np.uint8)
        np.bitwise_or.at(
            self.bits, positions >> 3, (1 << (positions & 7)).astype(np.uint8)
        )

    def narrowed(self, positions):
        """The held rows at these positions (ascending, all held) alone."""
        keep = np.searchsorted(self.positions, positions)
        return HeldRows(positions, self.features[keep], len(self.bits) * 8)

    def holds(self, positions):
        """Whether each of these table positions is held."""
        bits = self.bits[positions >> 3] >> (positions & 7).astype(np.uint8)
        return (bits & 1).view(bool)

    def fill(self, positions, X, held):
        """Fill the rows of X that ``held`` (from :meth:`holds`) marks."""
        rows = np.flatnonzero(held)
        if len(rows):
            X[rows] = self.features[np.searchsorted(self.positions, positions[rows])]
