"""The training sampler of a fit, from the ``sampler`` parameter and the data."""

import numpy as np
from torch.utils.data import BatchSampler

from ..budget import batch_size_in_use
from ..data.sqlite import BLOCK_ROWS
from ..samplers import DEFAULT_WINDOW, SAMPLERS, BatchBalancedSampler
from ..seeds import torch_seed
from .signatures import accepts


def training_sampler(net, labels, reads_in_blocks, stored_at, cached_blocks, shard):
    """The sampler ``net.sampler_`` of a fit on rows with 0/1 ``labels``, or None
    (a plain shuffle).

    ``reads_in_blocks``: the rows are read from disk, where ``sampler=None`` means
    the block shuffle; ``stored_at``: where each row is stored, for samplers that
    cut blocks; ``cached_blocks``: how many blocks the dataset's cache holds;
    ``shard(cls, options)``: the options for distributed training.
    """
    kwargs = net.get_params_for("sampler")
    sampler = net.sampler
    if net.get_params_for("iterator_train").get("shuffle") is False:
        reads_in_blocks = False  # the user asked for the stored order
    if sampler is None and not reads_in_blocks:
        if kwargs:
            raise ValueError(
                f"sampler options {sorted(kwargs)} were given, but sampler=None"
            )
        return None
    if sampler is None:
        sampler = "block_shuffle"  # the shuffle that keeps reads near-sequential
    if not isinstance(sampler, (str, type)):
        return sampler  # an instance: used as given
    cls = SAMPLERS[sampler] if isinstance(sampler, str) else sampler
    if reads_in_blocks and cls is BatchBalancedSampler:
        kwargs.setdefault("block_size", BLOCK_ROWS)  # its block-aware variant
    block_size = kwargs.get("block_size", BLOCK_ROWS)
    if (
        reads_in_blocks
        and cached_blocks
        and block_size  # None: batch_balanced's negatives in a plain shuffle
        and accepts(cls, "reuse_blocks")
    ):
        # Each epoch opens with the blocks the last one left in the cache (one
        # window fewer: a block read by key is not cached, and a miss then evicts
        # a spare block rather than one the epoch is about to visit).
        in_cache = cached_blocks * BLOCK_ROWS // block_size  # sampler's blocks
        window = kwargs.get("window", DEFAULT_WINDOW)
        kwargs.setdefault("reuse_blocks", max(in_cache - window, 0))
    if stored_at is not None and accepts(cls, "storage_positions"):
        # Blocks of the stored rows, not of the split's: on disk each is then read
        # once per epoch (and arrays are cut the same way).
        kwargs.setdefault("storage_positions", stored_at)
    if issubclass(cls, BatchSampler) and accepts(cls, "batch_size"):
        batch_size = net.get_params_for("iterator_train").get("batch_size")
        kwargs.setdefault(
            "batch_size",
            batch_size or batch_size_in_use(net.batch_size, net.batch_size_, True),
        )
    if accepts(cls, "seed"):
        kwargs.setdefault("seed", torch_seed())  # random_state seeds torch's RNG
    return cls(labels, **shard(cls, kwargs))


def presented_labels(sampler, labels):
    """Labels with the class counts one epoch of ``sampler`` shows the loss (the
    ``labels`` themselves for a sampler that does not resample)."""
    counts = getattr(sampler, "epoch_class_counts", None)
    if counts is None:
        return labels
    n_neg, n_pos = counts()
    # int8: a byte a row, as the training labels of a dataset fit
    return np.repeat(np.array([0, 1], np.int8), [round(n_neg), round(n_pos)])
