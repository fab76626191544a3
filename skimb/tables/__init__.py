"""Tables as networks take them: categorical columns as indices, missing values
imputed with an indicator, learned on the training rows (:class:`TableEncoder`)."""

from .columns import as_frame, is_table
from .encoder import TableEncoder, TableLayout

__all__ = ["TableEncoder", "TableLayout", "as_frame", "is_table"]
