"""Data access: in-memory batches and the lazy SQLite dataset."""

from .batches import ArrayDataset, Batch, collate
from .sqlite import SQLiteDataset, write_sqlite

__all__ = ["ArrayDataset", "Batch", "SQLiteDataset", "collate", "write_sqlite"]
