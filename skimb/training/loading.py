"""Datasets and batch iterators of a fit and of a prediction."""

import numpy as np
from skorch.dataset import unpack_data
from skorch.utils import to_numpy

from ..budget import batch_size_in_use
from ..data.batches import ArrayDataset, BatchRows, batch_sampler_for, collate
from ..devices import data_device, on_cuda
from ..progress import progress
from .runtime import device_type


def array_dataset(net, X, y, sample_weight):
    """The :class:`ArrayDataset` of in-memory ``X`` (and ``y``, weighted by
    ``sample_weight``), on the GPU for the fit where ``dataset__device="auto"`` and
    the arrays fit there."""
    kwargs = net.get_params_for("dataset")
    if kwargs.get("device", "auto") == "auto":
        kwargs["device"] = data_device(net.device, np.asarray(X).nbytes)
    if y is not None:
        kwargs["sample_weight"] = sample_weight
    return ArrayDataset(X, y, **kwargs)


def batch_iterator(net, dataset, training, training_batches):
    """skorch's ``get_iterator``, with batches fetched as index arrays where the
    dataset takes them and the training order drawn by ``net.sampler_``.

    ``training_batches`` adapts the training batch sampler (accelerate deals its
    batches out); ``iterator_train__*`` / ``iterator_valid__*`` options win,
    including a ``sampler`` or ``batch_sampler`` of the user's own.
    """
    prefix = "iterator_train" if training else "iterator_valid"
    kwargs = net.get_params_for(prefix)
    kwargs.setdefault("collate_fn", collate)
    if device_type(net.device) == "cuda" and not on_cuda(dataset):
        kwargs.setdefault("pin_memory", True)
    iterator = net.iterator_train if training else net.iterator_valid
    sampler = getattr(net, "sampler_", None) if training else None
    if sampler is not None:
        _check_sampler_size(sampler, dataset)
    batch_size = kwargs.pop("batch_size", None) or batch_size_in_use(
        net.batch_size, getattr(net, "batch_size_", None), training
    )
    if batch_size == -1:
        batch_size = len(dataset)
    if "sampler" in kwargs or "batch_sampler" in kwargs:  # the user's own
        if "batch_sampler" not in kwargs:
            kwargs["batch_size"] = batch_size
        return iterator(dataset, **kwargs)
    shuffle = kwargs.pop("shuffle", training)  # skorch leaves training unshuffled
    drop_last = kwargs.pop("drop_last", False)
    batches = batch_sampler_for(dataset, sampler, shuffle, batch_size, drop_last)
    if batches is not None and training:
        batches = training_batches(batches)
    if batches is not None:
        return iterator(dataset, batch_sampler=batches, **kwargs)
    if sampler is not None:
        kwargs["sampler"] = sampler
    else:
        kwargs["shuffle"] = shuffle
    return iterator(dataset, batch_size=batch_size, drop_last=drop_last, **kwargs)


def _check_sampler_size(sampler, dataset):
    # A sampler instance sized for other rows (the whole of X, not the training
    # split) would draw rows that are not there, or leave some out.
    n_rows = getattr(sampler, "n_rows", None)
    if n_rows is not None and n_rows != len(dataset):
        raise ValueError(
            f"sampler {type(sampler).__name__} was built for {n_rows} rows, but "
            f"the training rows are {len(dataset)}; pass the sampler class (it is "
            "then built on the training rows after the validation split) or an "
            "instance built on those rows"
        )


def feature_batches(net, dataset, description):
    """The feature tensors of ``dataset``, batch by batch (with a progress bar
    when ``net.progress`` asks for one)."""
    batches = net.get_iterator(dataset, training=False)
    for batch in progress(batches, net, len(dataset), description):
        yield unpack_data(batch)[0]


def predicted_proba(net, X, nonlinearity):
    """``predict_proba``'s ``(n, 2)`` array, ``nonlinearity`` of the logits: skorch's
    batch loop, each batch's probabilities written into one preallocated array of
    ``len(X)`` rows (:class:`BatchRows`), not a list of arrays concatenated after.
    """
    proba = BatchRows(len(X))
    for y_infer in net.forward_iter(X, training=False):
        y_infer = y_infer[0] if isinstance(y_infer, tuple) else y_infer
        proba.add(to_numpy(nonlinearity(y_infer)))
    proba = proba.array()
    return np.empty((0, 2), np.float32) if proba is None else proba
