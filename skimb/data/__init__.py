"""Data access: in-memory batches and the lazy SQLite dataset.

Layers, from index arithmetic up to datasets; each module imports only those of
the layers before it (``tests/test_layers.py`` holds it): ``index`` (row numbers,
a chunk at a time), ``row_runs`` (rows held as runs), ``split`` and ``batches``
(the light validation split; in-memory batches, batch samplers and wrappers),
``rows`` (what a fit asks of its datasets, read by attribute: ``reads_in_blocks``,
``storage_order()``, ``storage_positions()``, ``cache_blocks()``,
``passing_through()``, ``hold_rows()``), ``read_once`` (validation rows held
after one read), ``block_cache`` (decoded blocks and held rows, shared by the
datasets on disk), ``sqlite`` (the SQLite dataset and its writer), ``parquet``
(the Parquet dataset).
"""

from .batches import ArrayDataset, Batch, collate
from .parquet import ParquetDataset
from .sqlite import SQLiteDataset, recover_sqlite, write_sqlite

__all__ = [
    "ArrayDataset",
    "Batch",
    "ParquetDataset",
    "SQLiteDataset",
    "collate",
    "recover_sqlite",
    "write_sqlite",
]
