"""A lazy, read-only torch Dataset over one Parquet file or a folder of them.

Layers, each module importing only those above it in this list: ``layout`` (the
files, their columns and row groups cut into read units), ``reader`` (per-thread
file handles, a read unit decoded at a time), ``dataset``
(:class:`ParquetDataset`, its views and held rows). pyarrow is imported when a
dataset is opened, not with skimb (``pip install "skimb[parquet]"``).
"""

from .dataset import ParquetDataset
from .layout import UNIT_ROWS

__all__ = ["UNIT_ROWS", "ParquetDataset"]
