"""A lazy, read-only torch Dataset over one SQLite table, and the writer for it.

Layers, each module importing only those above it in this list: ``schema`` (which
columns hold what), ``reader`` (per-thread read-only connections, reads by id),
``labels`` (every id and label), ``cache`` (decoded blocks), ``dataset``
(:class:`SQLiteDataset`, its views and held rows), ``writer`` (:func:`write_sqlite`,
:func:`recover_sqlite`).
"""

from .cache import BLOCK_ROWS
from .dataset import SQLiteDataset
from .schema import WRITING_PREFIX
from .writer import PAGE_BYTES, recover_sqlite, write_sqlite

__all__ = [
    "BLOCK_ROWS",
    "PAGE_BYTES",
    "WRITING_PREFIX",
    "SQLiteDataset",
    "recover_sqlite",
    "write_sqlite",
]
