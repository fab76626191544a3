"""Torch samplers that draw training rows by class, from the labels alone.

Every sampler here reads only the 0/1 label vector, never the features, so it works
over a lazy :class:`skimb.data.SQLiteDataset` as well as over arrays. Each epoch's plan
is a pure function of ``(seed, epoch)``: the same seed replays the same batches, the
next epoch draws afresh, and distributed replicas that share the seed agree on the plan
and each take a disjoint share of it, as :class:`torch.utils.data.DistributedSampler`
does. :class:`BlockShuffleSampler` is not a resampling but a shuffle that keeps reads
from disk near-sequential.
"""

import functools
import numbers

import numpy as np
import torch.distributed as dist
from torch.utils.data import BatchSampler, Sampler

from .data import index
from .data.index import (
    ReadUnits,
    block_runs,
    chunk_bounds,
    compact_index_dtype,
    concatenated_ranges,
    positions_of,
    sorted_block_runs,
)
from .data.row_runs import RowRuns
from .seeds import torch_seed

#: Blocks whose rows a block-shuffled order mixes together (``window``).
DEFAULT_WINDOW = 32

__all__ = [
    "BatchBalancedSampler",
    "WeightedSampler",
    "UnderSampler",
    "OverSampler",
    "BlockShuffleSampler",
    "SAMPLERS",
]


class _LabelSampler:
    """Shared machinery: class indices, seeding, epochs and sharding across replicas."""

    needs_both_classes = True

    def __init__(self, labels, seed=None, num_replicas=None, rank=None):
        self.labels = _binary_labels(labels)
        self.n_rows = self.labels.size
        self.n_pos = int(np.count_nonzero(self.labels))
        self.n_neg = self.n_rows - self.n_pos
        if self.needs_both_classes and (self.n_pos == 0 or self.n_neg == 0):
            raise ValueError(
                f"{type(self).__name__} needs both classes among the training rows, "
                f"got {self.n_neg} negative(s) and {self.n_pos} positive(s)"
            )
        if seed is None:
            # Drawn from torch's global RNG, as torch's RandomSampler does, so that
            # torch.manual_seed makes the sampler reproducible.
            seed = torch_seed()
        self.seed = int(seed)
        self.num_replicas, self.rank = _replica_and_rank(num_replicas, rank)
        self.epoch = 0

    # Made when first asked for: BlockShuffleSampler picks its majority rows from
    # the labels and never needs their array (4 bytes a row: most of a table).
    # int32 below 2**31 rows: half the memory of each index array and plan.
    @functools.cached_property
    def pos_indices(self):
        """Positions of the positive rows, ascending."""
        return positions_of(self.labels, 1)

    @functools.cached_property
    def neg_indices(self):
        """Positions of the negative rows, ascending."""
        return positions_of(self.labels, 0)

    def set_epoch(self, epoch):
        """Choose the epoch whose plan the next iteration draws (epochs from 0)."""
        self.epoch = int(epoch)

    def epoch_class_counts(self):
        """``(n_neg, n_pos)`` that one epoch presents to the loss, over all replicas."""
        raise NotImplementedError

    def _rng(self, *stream):
        return np.random.default_rng([self.seed, *stream])

    def _next_epoch_plan(self):
        plan = self._epoch_plan(self.epoch)
        self.epoch += 1
        return _shard(plan, self.num_replicas, self.rank)


class BatchBalancedSampler(_LabelSampler, BatchSampler):
    """Batches that each hold at least ``pos_per_batch`` positives.

    Guarantees, every epoch:

    - every batch holds ``k`` positives (``k = pos_per_batch``) and ``batch_size``
      rows in all; only the last batch may be shorter, holding its ``k`` positives and
      the remaining negatives;
    - every negative appears exactly once, in a fresh random order;
    - positives come from an endless stream of random permutations of all positives:
      none is repeated before all have been used, and each cycle is shuffled anew.
      The stream carries on across epochs, so positives are used evenly.

    Yields lists of row indices: pass it as ``batch_sampler`` to a ``DataLoader``
    (without ``batch_size`` or ``shuffle``). ``len()`` is the number of batches.

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Label of every row the sampler draws from (1 = positive).
    batch_size : int
        Rows per batch.
    pos_per_batch : int, default=1
        Positives per batch, ``1 <= pos_per_batch < batch_size``.
    pos_fraction : float in (0, 1) or None, default=None
        If set, overrides ``pos_per_batch`` with ``max(1, round(pos_fraction *
        batch_size))``.
    block_size : int or None, default=None
        ``None``: the negatives come in a fresh random order. An int: in a
        block-shuffled order, as :class:`BlockShuffleSampler` draws them (blocks of
        ``block_size`` consecutive rows, shuffled, rows mixed inside ``window``
        blocks), so that a :class:`~skimb.data.SQLiteDataset` reads them
        near-sequentially; positives, few, are drawn as before.
    window : int, default=32
        Blocks mixed together, with ``block_size``.
    storage_positions : array-like of int or None, default=None
        With ``block_size``: where each row sits in storage, as in
        :class:`BlockShuffleSampler`.
    reuse_blocks : int, default=0
        With ``block_size``: blocks visited last in one epoch that open the next,
        as in :class:`BlockShuffleSampler`.
    seed : int or None, default=None
        Seed of the plan; ``None`` draws one from torch's global RNG.
    num_replicas, rank : int or None, default=None
        For distributed training: each replica gets every ``num_replicas``-th batch of
        the epoch, starting at ``rank`` (batches wrap around so all get as many).
        Default: from ``torch.distributed`` when initialised, else 1 and 0.

    Examples
    --------
    >>> from skimb.samplers import BatchBalancedSampler
    >>> labels = [1, 0, 0, 0, 0, 0, 0, 0]
    >>> sampler = BatchBalancedSampler(labels, batch_size=4, seed=0)
    >>> [sum(labels[i] for i in batch) for batch in sampler]
    [1, 1, 1]
    """

    def __init__(
        self,
        labels,
        batch_size,
        pos_per_batch=1,
        pos_fraction=None,
        block_size=None,
        window=DEFAULT_WINDOW,
        storage_positions=None,
        reuse_blocks=0,
        seed=None,
        num_replicas=None,
        rank=None,
    ):
        _check_positive_int("batch_size", batch_size, minimum=2)
        if block_size is not None:
            _check_positive_int("block_size", block_size)
        _check_positive_int("window", window)
        _check_positive_int("reuse_blocks", reuse_blocks, minimum=0)
        if pos_fraction is not None:
            if not isinstance(pos_fraction, numbers.Real) or not 0 < pos_fraction < 1:
                raise ValueError(
                    f"pos_fraction must be a float in (0, 1), got {pos_fraction!r}"
                )
            pos_per_batch = max(1, round(pos_fraction * batch_size))
        _check_positive_int("pos_per_batch", pos_per_batch)
        if pos_per_batch >= batch_size:
            raise ValueError(
                f"pos_per_batch={pos_per_batch} must be smaller than "
                f"batch_size={batch_size} so that every batch also holds negatives"
            )
        super().__init__(labels, seed=seed, num_replicas=num_replicas, rank=rank)
        self.batch_size = int(batch_size)
        self.pos_per_batch = int(pos_per_batch)
        self.block_size = None if block_size is None else int(block_size)
        self.window = int(window)
        units = read_units_of(storage_positions)
        self.storage_positions = _storage_positions(storage_positions, self.n_rows)
        self.reuse_blocks = int(reuse_blocks)
        self._blocks = None
        if self.block_size is not None:
            self._blocks = _Blocks(
                self.labels, 0, self.block_size, self.storage_positions, units
            )
        self.drop_last = False
        negs_per_batch = self.batch_size - self.pos_per_batch
        self.n_batches = -(-self.n_neg // negs_per_batch)

    def __iter__(self):
        for batch in self.epoch_batches():
            yield batch.tolist()

    def epoch_batches(self):
        """The next epoch's batches as int64 arrays (``__iter__`` yields them as
        lists, as torch's ``BatchSampler`` does)."""
        return self._next_epoch_plan()

    def __len__(self):
        return -(-self.n_batches // self.num_replicas)

    def epoch_class_counts(self):
        return self.n_neg, self.n_batches * self.pos_per_batch

    def _epoch_plan(self, epoch):
        negs_per_batch = self.batch_size - self.pos_per_batch
        rng = self._rng(0, epoch)
        if self._blocks is None:
            negatives = rng.permutation(self.neg_indices)
        else:
            order = self._blocks.order(epoch, self.reuse_blocks, self._rng)
            negatives = self._blocks.shuffled(self.window, rng, order)
        n_drawn = self.n_batches * self.pos_per_batch
        positives = self._positive_stream(epoch * n_drawn, n_drawn)
        # Index arrays, not lists: skimb's datasets take them as they are.
        return [
            np.concatenate(
                [
                    positives[b * self.pos_per_batch : (b + 1) * self.pos_per_batch],
                    negatives[b * negs_per_batch : (b + 1) * negs_per_batch],
                ]
            )
            for b in range(self.n_batches)
        ]

    def _positive_stream(self, start, count):
        """Positions ``[start, start + count)`` of the endless stream of positives."""
        n_pos = self.n_pos
        first_cycle, last_cycle = start // n_pos, (start + count - 1) // n_pos
        cycles = [
            self._rng(1, cycle).permutation(self.pos_indices)
            for cycle in range(first_cycle, last_cycle + 1)
        ]
        offset = start - first_cycle * n_pos
        return np.concatenate(cycles)[offset : offset + count]


class _IndexSampler(_LabelSampler, Sampler):
    """A sampler of row indices (pass it as ``sampler`` to a ``DataLoader``)."""

    def __iter__(self):
        for piece in self.epoch_pieces():
            yield from piece.tolist()

    def epoch_indices(self):
        """The next epoch's row indices as one integer array (int32 below 2**31
        rows; what ``__iter__`` yields one by one)."""
        return np.asarray(self._next_epoch_plan())

    def epoch_pieces(self):
        """The next epoch's row indices as consecutive arrays, drawn as they are
        asked for where the sampler can (:class:`BlockShuffleSampler`): their
        concatenation is :meth:`epoch_indices`, without an array of the whole
        epoch."""
        yield self.epoch_indices()

    def __len__(self):
        return -(-self._epoch_size() // self.num_replicas)


class WeightedSampler(_IndexSampler):
    """Rows drawn with replacement, each class with equal total probability.

    The same draw as :class:`torch.utils.data.WeightedRandomSampler` with
    inverse-frequency weights: a row of class ``c`` has probability ``0.5 / n_c``.

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Label of every row the sampler draws from (1 = positive).
    num_samples : int or None, default=None
        Draws per epoch; ``None`` = the number of rows.
    seed, num_replicas, rank
        As in :class:`BatchBalancedSampler`.

    Examples
    --------
    >>> from skimb.samplers import WeightedSampler
    >>> len(WeightedSampler([0, 0, 0, 1], seed=0))
    4
    """

    def __init__(
        self, labels, num_samples=None, seed=None, num_replicas=None, rank=None
    ):
        super().__init__(labels, seed=seed, num_replicas=num_replicas, rank=rank)
        if num_samples is not None:
            _check_positive_int("num_samples", num_samples)
        self.num_samples = self.n_rows if num_samples is None else int(num_samples)
        probabilities = np.empty(self.n_rows)
        probabilities[self.pos_indices] = 0.5 / self.n_pos
        probabilities[self.neg_indices] = 0.5 / self.n_neg
        self.probabilities = probabilities / probabilities.sum()

    def epoch_class_counts(self):
        return self.num_samples / 2, self.num_samples / 2

    def _epoch_size(self):
        return self.num_samples

    def _epoch_plan(self, epoch):
        return self._rng(0, epoch).choice(
            self.n_rows, size=self.num_samples, p=self.probabilities
        )


class UnderSampler(_IndexSampler):
    """Each epoch: every positive plus a fresh random subset of the negatives.

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Label of every row the sampler draws from (1 = positive).
    ratio : float > 0, default=1.0
        Negatives per positive, ``round(ratio * n_pos)`` in all (at most every
        negative), drawn without replacement, anew each epoch.
    seed, num_replicas, rank
        As in :class:`BatchBalancedSampler`.

    Examples
    --------
    >>> from skimb.samplers import UnderSampler
    >>> len(UnderSampler([0] * 10 + [1, 1], ratio=2.0, seed=0))
    6
    """

    def __init__(self, labels, ratio=1.0, seed=None, num_replicas=None, rank=None):
        _check_ratio(ratio)
        super().__init__(labels, seed=seed, num_replicas=num_replicas, rank=rank)
        self.ratio = float(ratio)
        wanted = max(1, round(self.ratio * self.n_pos))
        self.n_negatives = min(self.n_neg, wanted)

    def epoch_class_counts(self):
        return self.n_negatives, self.n_pos

    def _epoch_size(self):
        return self.n_pos + self.n_negatives

    def _epoch_plan(self, epoch):
        rng = self._rng(0, epoch)
        negatives = rng.choice(self.neg_indices, self.n_negatives, replace=False)
        return rng.permutation(np.concatenate([self.pos_indices, negatives]))


class OverSampler(_IndexSampler):
    """Each epoch: every negative, every positive, and extra positives with replacement.

    The positives are topped up to ``round(ratio * n_neg)`` (never fewer than there
    are), so no positive is ever left out of an epoch.

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Label of every row the sampler draws from (1 = positive).
    ratio : float > 0, default=1.0
        Positives per negative in each epoch.
    seed, num_replicas, rank
        As in :class:`BatchBalancedSampler`.

    Examples
    --------
    >>> from skimb.samplers import OverSampler
    >>> len(OverSampler([0] * 10 + [1, 1], seed=0))
    20
    """

    def __init__(self, labels, ratio=1.0, seed=None, num_replicas=None, rank=None):
        _check_ratio(ratio)
        super().__init__(labels, seed=seed, num_replicas=num_replicas, rank=rank)
        self.ratio = float(ratio)
        wanted = round(self.ratio * self.n_neg)
        self.n_positives = max(self.n_pos, wanted)

    def epoch_class_counts(self):
        return self.n_neg, self.n_positives

    def _epoch_size(self):
        return self.n_neg + self.n_positives

    def _epoch_plan(self, epoch):
        rng = self._rng(0, epoch)
        n_extra = self.n_positives - self.n_pos
        extra = rng.choice(self.pos_indices, n_extra, replace=True)
        rows = np.concatenate([self.neg_indices, self.pos_indices, extra])
        return rng.permutation(rows)


class BlockShuffleSampler(_IndexSampler):
    """Every row once per epoch, in a shuffle that keeps reads near-sequential.

    Made for data read from disk (:class:`skimb.data.SQLiteDataset`), where a fully
    random order reads rows one by one. Each epoch:

    1. the rows are cut into blocks of ``block_size`` consecutive rows, and the blocks
       are shuffled;
    2. the shuffled blocks are taken ``window`` at a time, and the majority-class
       rows inside each window are shuffled together;
    3. the minority-class rows (the positives, in imbalanced data) are spread
       uniformly at random over the whole epoch, as a plain shuffle would place
       them. They are few, so reading them by key costs little, and batches get
       the positives' share of the data even when the file is sorted by label.

    So every row appears exactly once per epoch, a batch mixes majority rows from up
    to ``window`` random places of the file, and the reader touches only ``window``
    blocks at a time (plus the scattered minority rows):
    :class:`~skimb.data.SQLiteDataset` reads each block with one range query and
    serves the window's batches from its block cache. The class counts are those of
    the data, so ``pos_weight="balanced"`` corrects as with plain shuffling. With
    ``window * block_size >= len(labels)`` it is a full shuffle.

    Majority rows that sit next to each other in storage still land in nearby
    batches: if the file is sorted by time or by a feature, batches are less mixed
    than with a full shuffle. Writing the file in random order avoids that
    (``write_sqlite`` keeps the order it is given).

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Label of every row the sampler draws from (1 = positive).
    block_size : int, default=256
        Consecutive rows per block (256 matches ``SQLiteDataset``'s cache blocks).
    window : int, default=32
        Blocks whose rows are shuffled together. Larger mixes better and needs a
        larger block cache (``window * block_size`` rows) to keep reads sequential.
    storage_positions : array-like of int or None, default=None
        Where each row sits in storage (its row number in the file's order), when
        the rows drawn from are a subset of the stored ones, e.g. the training split
        of a table: blocks are then cut over these positions, so that a block of
        the sampler is a block of the file (the classifier passes them for a
        :class:`~skimb.data.SQLiteDataset`). ``None``: row ``i`` is stored at ``i``.
        Positions that carry ``read_units`` (a
        :class:`~skimb.data.index.ReadUnits`, as a
        :class:`~skimb.data.ParquetDataset` gives them) come from a storage read a
        unit (a Parquet row group, or a slice of one) at a time: the blocks are
        then visited unit by unit, from ``read_units.lanes`` units at once, so
        that each unit is decoded once per epoch (see :class:`_Blocks`).
    reuse_blocks : int, default=0
        How many of the blocks an epoch visits last open the next epoch (in a fresh
        random order; the other blocks follow, shuffled). They are the blocks a
        least-recently-used block cache still holds when the epoch ends, so the
        next epoch's first windows read nothing from disk. Every epoch still visits
        every row once. ``0``: each epoch's block order is drawn independently. The
        classifier sets it to what a :class:`~skimb.data.SQLiteDataset`'s cache
        holds, less one window.
    seed, num_replicas, rank
        As in :class:`BatchBalancedSampler`. Replicas take every
        ``num_replicas``-th row of the plan, so they read the same blocks.

    Examples
    --------
    >>> from skimb.samplers import BlockShuffleSampler
    >>> labels = [0, 0, 0, 1, 0, 0, 0, 0]
    >>> order = list(BlockShuffleSampler(labels, block_size=2, window=2, seed=0))
    >>> sorted(order) == list(range(8))
    True
    """

    needs_both_classes = False

    def __init__(
        self,
        labels,
        block_size=256,
        window=DEFAULT_WINDOW,
        storage_positions=None,
        reuse_blocks=0,
        seed=None,
        num_replicas=None,
        rank=None,
    ):
        _check_positive_int("block_size", block_size)
        _check_positive_int("window", window)
        _check_positive_int("reuse_blocks", reuse_blocks, minimum=0)
        super().__init__(labels, seed=seed, num_replicas=num_replicas, rank=rank)
        self.block_size = int(block_size)
        self.window = int(window)
        units = read_units_of(storage_positions)
        self.storage_positions = _storage_positions(storage_positions, self.n_rows)
        self.reuse_blocks = int(reuse_blocks)
        # Ties: the positives count as the minority.
        self.minority = 1 if self.n_pos <= self.n_neg else 0
        self._blocks = _Blocks(
            self.labels,
            1 - self.minority,
            self.block_size,
            self.storage_positions,
            units,
        )

    @property
    def minority_indices(self):
        """Positions of the minority class's rows (the positives on ties)."""
        return self.pos_indices if self.minority == 1 else self.neg_indices

    def epoch_class_counts(self):
        return self.n_neg, self.n_pos

    def _epoch_size(self):
        return self.n_rows

    def epoch_pieces(self):
        """The next epoch's plan one window at a time: only a window's rows are
        in memory, not the epoch's (4 bytes a row, and as much again while an
        epoch's array is built). Distributed replicas take their share of the
        whole plan."""
        if self.num_replicas > 1:
            yield self.epoch_indices()
            return
        epoch = self.epoch
        self.epoch += 1
        yield from self._windows(epoch)

    def _epoch_plan(self, epoch):
        pieces = list(self._windows(epoch))
        return np.concatenate(pieces) if pieces else self.minority_indices[:0]

    def _windows(self, epoch):
        """The epoch's plan, window after window."""
        rng = self._rng(0, epoch)
        order = self._blocks.order(epoch, self.reuse_blocks, self._rng)
        # The minority rows and their places among the majority rows (np.insert's
        # positions over the whole epoch), drawn first, on a stream of their own:
        # they are few, and each window takes those that fall in it.
        rng_minority = self._rng(3, epoch)
        minority = rng_minority.permutation(self.minority_indices)
        n_majority = self.n_rows - minority.size
        places = np.sort(rng_minority.integers(0, n_majority + 1, minority.size))
        start, taken = 0, 0
        for rows in self._blocks.windows(self.window, rng, order):
            end = start + rows.size
            until = np.searchsorted(places, end)
            yield np.insert(rows, places[taken:until] - start, minority[taken:until])
            start, taken = end, until
        if taken < places.size:  # placed after the last majority row
            yield minority[taken:]


SAMPLERS = {
    "batch_balanced": BatchBalancedSampler,
    "weighted": WeightedSampler,
    "undersample": UnderSampler,
    "oversample": OverSampler,
    "block_shuffle": BlockShuffleSampler,
}


class _Blocks:
    """The rows whose label is ``value`` (ascending), cut into blocks by where they
    are stored, and the block-shuffled orders of them.

    Block ``b`` holds the rows whose storage position (``storage_positions[row]``,
    or the row itself) is in ``[b * block_size, (b + 1) * block_size)``; only the
    blocks with a row of ``value`` count. The cut is made once: the rows are the
    same every epoch. When the rows are stored in their own order (as the
    classifier gives them), a block is a run of consecutive rows, and a window's
    rows of ``value`` are picked from the labels as it is drawn: no array of those
    rows (4 bytes each: most of the table, on the default path).
    """

    def __init__(self, labels, value, block_size, storage_positions=None, units=None):
        self._labels, self._value = labels, value
        self._dtype = compact_index_dtype(labels.size)
        cut = block_runs(labels.size, block_size, storage_positions)
        if cut is None:  # stored out of order: the rows listed, by block
            rows = positions_of(labels, value)
            stored_at = storage_positions[rows]
            order, starts, counts = sorted_block_runs(stored_at, block_size)
            self.rows = rows[order]
        else:  # runs of all rows; those that hold a row of `value` count
            self.rows = None
            starts, counts = cut
            keep = _count_in_runs(labels, value, starts, counts) > 0
            starts, counts = starts[keep], counts[keep]
        self.starts, self.counts = starts, counts
        self._last_order = (-1, None)  # (epoch, order): the chain's latest link
        self.units = units
        if units is not None:  # the read unit of each block's first row
            first = starts if self.rows is None else self.rows[starts]
            stored = first if storage_positions is None else storage_positions[first]
            self.unit_of = np.asarray(stored, dtype=np.int64) // units.unit_rows

    def order(self, epoch, reuse, rng_for):
        """The epoch's order of the blocks (indices into them), or None to let
        :meth:`shuffled` draw it.

        With ``reuse``, epoch ``e``'s order opens with the last ``reuse`` blocks of
        epoch ``e - 1``'s, reshuffled, so each order depends on the one before:
        they are drawn as a chain from epoch 0, each from its own stream
        ``rng_for(2, e)``, which keeps every epoch a function of the seed and its
        number. The latest link is kept: epochs asked in turn cost one draw.
        """
        if self.units is not None and reuse == 0:
            return self._by_units(np.arange(self.counts.size), rng_for(2, epoch))
        if reuse == 0:
            return None
        known, order = self._last_order
        if known > epoch:  # asked for an earlier epoch: draw the chain again
            known, order = -1, None
        for e in range(known + 1, epoch + 1):
            rng = rng_for(2, e)
            if order is None:
                order = rng.permutation(self.counts.size)
                if self.units is not None:
                    order = self._by_units(order, rng)
            else:
                split = max(order.size - reuse, 0)
                if self.units is not None:
                    split = self._reuse_split(order, split)
                rest = order[:split]
                rest = (
                    rng.permutation(rest)
                    if self.units is None
                    else self._by_units(rest, rng)
                )
                order = np.concatenate([rng.permutation(order[split:]), rest])
        self._last_order = (epoch, order)
        return order

    def _reuse_split(self, order, split):
        """Where the reused tail of ``order`` starts: at ``split``, or later, so
        that it holds the blocks of at most ``lanes`` read units. The cache holds
        twice ``lanes`` units; the tail's units and the first new lanes' then fit
        in it together. A longer tail (lanes of uneven units end unevenly, so the
        last blocks span more units) made every batch of the opening windows
        decode units the cache could not keep."""
        tail_units = self.unit_of[order[split:]]
        seen, start = set(), tail_units.size
        for i in range(tail_units.size - 1, -1, -1):
            unit = int(tail_units[i])
            if unit not in seen:
                if len(seen) == self.units.lanes:
                    break
                seen.add(unit)
            start = i
        return split + start

    def _by_units(self, blocks, rng):
        """``blocks`` in an order that reads each read unit once: the units in a
        random order (the units of one stream, the slices of a large row group,
        in their stored order), taken ``lanes`` at a time, one block from each in
        turn, the blocks of a unit in a random order. A window of blocks then
        mixes rows of ``lanes`` random places of the file, and the reader holds
        ``lanes`` units (twice that as lanes move on) instead of the whole file."""
        units = self.units
        unit = self.unit_of[blocks]
        stream_rank = rng.permutation(units.n_streams)[units.stream_of(unit)]
        by_unit = np.lexsort((rng.random(blocks.size), unit, stream_rank))
        blocks, unit = blocks[by_unit], unit[by_unit]
        # Units in that order dealt to the lanes in turn; then block t of every
        # lane before block t + 1 of any.
        new_unit = np.ones(blocks.size, dtype=bool)
        new_unit[1:] = unit[1:] != unit[:-1]
        unit_number = np.cumsum(new_unit) - 1
        lanes = max(1, min(units.lanes, int(unit_number[-1]) + 1 if blocks.size else 1))
        lane = unit_number % lanes
        step = np.empty(blocks.size, dtype=np.int64)
        for k in range(lanes):  # a lane's blocks, counted along it
            in_lane = lane == k
            step[in_lane] = np.arange(np.count_nonzero(in_lane))
        return blocks[np.lexsort((lane, step))]

    def shuffled(self, window, rng, order=None):
        """The rows in a block-shuffled order: the blocks in ``order`` (a random
        one drawn from ``rng`` when None), then the rows of each run of ``window``
        blocks shuffled together."""
        pieces = list(self.windows(window, rng, order))
        return np.concatenate(pieces) if pieces else np.zeros(0, self._dtype)

    def windows(self, window, rng, order=None):
        """:meth:`shuffled`, one window of blocks at a time (the same draws)."""
        if order is None:
            order = rng.permutation(self.counts.size)
        for first, last in chunk_bounds(order.size, size=window):
            blocks = order[first:last]
            # Row indices block after block, in the shuffled block order.
            span = concatenated_ranges(self.starts[blocks], self.counts[blocks])
            if self.rows is not None:
                rows = self.rows[span]
            else:
                rows = span[self._labels[span] == self._value].astype(self._dtype)
            rng.shuffle(rows)
            yield rows


def _count_in_runs(labels, value, starts, counts, chunk=None):
    """How many rows of each run ``[starts[i], starts[i] + counts[i])`` have the
    label ``value``. The runs tile the rows in order (as ``block_runs`` cuts
    them); their labels are compared about ``chunk`` rows at a time."""
    chunk = index.SCAN_ROWS if chunk is None else chunk
    found = np.zeros(starts.size, dtype=np.int64)
    first = 0
    while first < starts.size:
        # The runs that start within `chunk` rows of this one (at least one).
        last = max(first + 1, int(np.searchsorted(starts, starts[first] + chunk)))
        low, high = starts[first], starts[last - 1] + counts[last - 1]
        is_value = labels[low:high] == value
        found[first:last] = np.add.reduceat(is_value, starts[first:last] - low)
        first = last
    return found


def read_units_of(storage_positions):
    """The :class:`~skimb.data.index.ReadUnits` that storage positions carry, or
    None."""
    units = getattr(storage_positions, "read_units", None)
    return units if isinstance(units, ReadUnits) else None


def _storage_positions(positions, n_rows):
    """``storage_positions`` checked: one non-negative int per row, or None."""
    if positions is None:
        return None
    if not isinstance(positions, RowRuns):  # the light split's rows stay runs
        positions = np.asarray(positions)
    if positions.shape != (n_rows,) or (
        positions.size and not np.issubdtype(positions.dtype, np.integer)
    ):
        raise ValueError(
            f"storage_positions must be {n_rows} ints (one per row), got an array "
            f"of shape {positions.shape} and dtype {positions.dtype}"
        )
    if positions.size and positions.min() < 0:
        raise ValueError(f"storage_positions must be >= 0, got {int(positions.min())}")
    return positions  # any integer type: the classifier's may be int32


def _shard(plan, num_replicas, rank):
    """Every ``num_replicas``-th item from ``rank``, wrapped so all shares are equal."""
    if num_replicas == 1:
        return plan
    share = -(-len(plan) // num_replicas)
    padding = share * num_replicas - len(plan)
    if isinstance(plan, np.ndarray):
        padded = np.concatenate([plan, np.resize(plan, padding)])
    else:
        padded = plan + (plan * (padding // max(len(plan), 1) + 1))[:padding]
    return padded[rank::num_replicas]


def _replica_and_rank(num_replicas, rank):
    distributed = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if distributed else 1
    if rank is None:
        rank = dist.get_rank() if distributed else 0
    _check_positive_int("num_replicas", num_replicas)
    if not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
        raise ValueError(
            f"rank must be an int in [0, {num_replicas - 1}], got {rank!r}"
        )
    return int(num_replicas), int(rank)


def _binary_labels(labels):
    """The labels as int8 0/1 (not copied when they are that already)."""
    labels = np.asarray(labels).ravel()
    if labels.dtype == bool:
        return labels.astype(np.int8)
    # Integers checked by their range (no arrays of flags), others value by value;
    # not with np.unique, which sorts a copy of every label.
    if labels.dtype.kind in "iu" and labels.size:
        binary = labels.min() >= 0 and labels.max() <= 1
    else:
        binary = bool(((labels == 0) | (labels == 1)).all())
    if not binary:
        values = np.unique(labels)
        shown = values[:5].tolist()
        raise ValueError(
            f"labels must be 0/1 or bool (1 = positive), got values {shown}"
        )
    return labels.astype(np.int8, copy=False)


def _check_positive_int(name, value, minimum=1):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_ratio(ratio):
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not ratio > 0:
        raise ValueError(f"ratio must be a float > 0, got {ratio!r}")
