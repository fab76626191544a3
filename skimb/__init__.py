"""skimb: a scikit-learn-compatible PyTorch classifier for imbalanced binary data."""

from .accelerated import AcceleratedImbalancedNetClassifier
from .classifier import ImbalancedNetClassifier
from .data import ParquetDataset, SQLiteDataset, write_sqlite
from .losses import FocalLoss
from .modules import MLP, RealMLP, TabM
from .plotting import HistoryDisplay
from .samplers import (
    BatchBalancedSampler,
    BlockShuffleSampler,
    OverSampler,
    UnderSampler,
    WeightedSampler,
)
from .schedules import DeferredReweighting, LinearDecay, PlateauIncrease, WeightSchedule
from .weights import effective_number

__version__ = "0.1.0"

__all__ = [
    "AcceleratedImbalancedNetClassifier",
    "BatchBalancedSampler",
    "BlockShuffleSampler",
    "DeferredReweighting",
    "FocalLoss",
    "HistoryDisplay",
    "ImbalancedNetClassifier",
    "LinearDecay",
    "MLP",
    "RealMLP",
    "TabM",
    "OverSampler",
    "PlateauIncrease",
    "ParquetDataset",
    "SQLiteDataset",
    "UnderSampler",
    "WeightSchedule",
    "WeightedSampler",
    "effective_number",
    "write_sqlite",
]
