"""The plan of one fit: what skorch's hooks need to know about the training rows.

skorch calls the classifier's hooks one after another (``get_dataset``,
``get_split_datasets``, the callbacks, the end of training) with no place to carry
what one learns for the next. A :class:`FitPlan` is that place: made at the start
of a fit, filled once the split is known (:meth:`FitPlan.prepare`), read by the
hooks, and dropped when the fit ends.
"""

import numpy as np
import torch

from ..data.batches import IndexSubset
from ..data.read_once import held_if_small
from ..data.rows import (
    cache_blocks,
    hold_rare_rows,
    let_go_for_now,
    reads_in_blocks,
    sorted_subset,
    storage_positions,
    subset_labels,
)
from ..data.split import light_valid_split
from ..scaling import FeatureScaler, scaling_sample
from ..seeds import torch_seed
from ..weights import class_counts, resolve_pos_weight
from .loading import feature_batches
from .sampling import presented_labels, training_sampler


class FitPlan:
    """What one fit knows about its training rows.

    Parameters
    ----------
    sample_weight : ndarray or None
        Row weights of in-memory training data (a Dataset carries its own).
    keep_scores : bool
        Keep the scored threshold rows for the caller (a bag's network).
    resumable : bool
        A fit from a freshly initialized module, which a checkpoint can resume
        (:mod:`skimb.checkpoints`); not ``partial_fit``.
    packing : MemberRows or None
        The members of a packed bag and the rows each trains on
        (:mod:`skimb.packing`), or None for one network.

    Attributes
    ----------
    class_counts : tuple of two (n_neg, n_pos) pairs
        The counts an epoch presents to the loss, and the true ones; prior
        correction undoes the difference.
    threshold_rows : Dataset
        The rows the decision threshold is tuned on after training: the validation
        rows, or the training rows without a split.
    scores : tuple or None
        ``(0/1 flags, corrected probabilities, weights or None)`` of the threshold
        rows, when ``keep_scores``.
    """

    def __init__(
        self, sample_weight=None, keep_scores=False, resumable=False, packing=None
    ):
        self.sample_weight = sample_weight
        self.keep_scores = keep_scores
        self.resumable = resumable
        self.packing = packing
        self.class_counts = None
        self.threshold_rows = None
        self.scores = None

    def prepare(self, net, dataset_train, dataset_valid, y, shard):
        """Plan training on the split: the held rows of data on disk, the sampler,
        the positive weight and the scaling (on ``net``: ``sampler_``,
        ``pos_weight_``, ``scaler_``). Returns the ``(train, valid)`` datasets to
        train on."""
        # Rows in storage order: the sampler shuffles anyway, and a dataset read
        # from disk then reads nearby rows together.
        dataset_train, dataset_valid = map(
            sorted_subset, (dataset_train, dataset_valid)
        )
        train_labels = subset_labels(dataset_train, y)
        on_disk = reads_in_blocks(dataset_train)
        if on_disk:
            # The validation rows read once per fit, not once per epoch.
            dataset_valid = held_if_small(dataset_valid, net.n_features_in_)
        # Where each training row is stored: the sampler's blocks and the scaling
        # sample are cut over it.
        stored_at = storage_positions(dataset_train)
        net.sampler_ = training_sampler(
            net, train_labels, on_disk, stored_at, cache_blocks(dataset_train), shard
        )
        presented = presented_labels(net.sampler_, train_labels)
        self.class_counts = (class_counts(presented), class_counts(train_labels))
        net.pos_weight_ = resolve_pos_weight(net.pos_weight, presented)
        net.set_weight_in_force(net.pos_weight_)
        if self.packing is not None:  # each member's on its own training folds
            net.pos_weight_ = self.packing.resolve_weights(
                net, train_labels, net.pos_weight
            )
        # Scaling is fitted with the module: a fit that goes on (partial_fit,
        # warm_start, a bag, whose networks scale their own inputs) keeps it.
        scaling = None
        if "scaler_" not in vars(net):
            net.scaler_ = None
            table = getattr(net, "table_encoder_", None)
            if table is not None:  # fitted on the table's observed values
                net.scaler_ = table.scaler_
            elif net.scaling is not None:
                scaling = ScalingSample(stored_at)
        together = False
        if on_disk:
            # The positives, spread over every epoch, read once and held; the
            # scaling sample read in the same pass where the dataset can.
            for_now = None if scaling is None else scaling.rows_or_all()
            together = hold_rare_rows(dataset_train, train_labels, for_now)
        if scaling is not None:
            net.scaler_ = scaling.fitted(net, dataset_train)
        if together:
            let_go_for_now(dataset_train)
        self.threshold_rows = dataset_train if dataset_valid is None else dataset_valid
        return dataset_train, dataset_valid


def split_datasets(net, X, y, fit_params, skorch_split):
    """``(train, valid)`` datasets of ``X``: skorch's default stratified split made
    without its per-row working memory (:func:`light_valid_split`), any other by
    ``skorch_split(X, y, **fit_params)``."""
    rows = None if fit_params else light_valid_split(net.train_split, y)
    dataset = None if rows is None else net.get_dataset(X, y)
    if rows is not None and len(dataset) == len(y):
        return tuple(IndexSubset(dataset, r) for r in rows)
    return skorch_split(X, y, **fit_params)


class ScalingSample:
    """The training rows a :class:`FeatureScaler` is fitted on: all of them, or a
    sample of whole blocks past ``SCALING_SAMPLE_ROWS`` (:func:`scaling_sample`),
    drawn with a generator seeded from torch's RNG."""

    def __init__(self, stored_at):
        self.n_rows = len(stored_at)
        self.generator = torch.Generator().manual_seed(torch_seed())
        self.rows = scaling_sample(stored_at, self.generator)

    def rows_or_all(self):
        """The sample's rows (of the training rows)."""
        return np.arange(self.n_rows) if self.rows is None else self.rows

    def fitted(self, net, dataset_train):
        """The scaler fitted on the sample, read batch by batch."""
        if self.rows is not None:
            dataset_train = IndexSubset(dataset_train, self.rows)
        batches = feature_batches(net, dataset_train, "scaling statistics")
        return FeatureScaler(net.scaling).fit(
            batches, n_rows=len(dataset_train), generator=self.generator
        )
