"""The block cache of a SQLite table: blocks of ``BLOCK_ROWS`` rows in primary-key
order (:mod:`skimb.data.block_cache`, which the Parquet dataset shares)."""

from ..block_cache import BLOCK_BITS, BLOCK_ROWS, BlockCache, capacity

__all__ = ["BLOCK_BITS", "BLOCK_ROWS", "BlockCache", "capacity"]
