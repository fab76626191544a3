"""Data access: in-memory batches and the lazy SQLite dataset."""

from .batches import ArrayDataset, Batch, collate
from .sqlite import SQLiteDataset, recover_sqlite, write_sqlite

__all__ = [
    "ArrayDataset",
    "Batch",
    "SQLiteDataset",
    "collate",
    "recover_sqlite",
    "write_sqlite",
]
