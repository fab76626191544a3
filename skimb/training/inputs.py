"""The training data of a fit: ``X``, ``y`` and ``sample_weight`` checked, the labels
encoded 0/1 against ``classes_``."""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, validate_data
from skorch.utils import is_dataset

from .._params import check_sample_weight
from ..data.batches import EncodedTargets, byte_value_counts
from ..data.rows import dataset_width, in_storage_order


def n_rows(X):
    """Rows of the training data, without reading them."""
    return len(X) if is_dataset(X) else _num_samples(X)


def training_data(net, X, y, sample_weight, reset):
    """``(X, y01, sample_weight)`` to train ``net`` on.

    A Dataset comes back in storage order wrapped in :class:`EncodedTargets`, which
    carries the row weights itself (the third value is then ``None``); arrays are
    validated as float32 (``validate_data`` sets ``n_features_in_`` and
    ``feature_names_in_`` when ``reset``). ``reset`` learns ``classes_``; otherwise
    the labels must be among them.
    """
    if is_dataset(X):
        labels = dataset_labels(X, y)
        sample_weight = check_sample_weight(sample_weight, len(labels))
        X, labels, sample_weight = in_storage_order(X, labels, sample_weight)
        try:
            # int8: only the split and the sampler read them (the batches' float
            # targets come from EncodedTargets), 1 byte a row
            y01 = _encoded(net, labels, reset, dtype=np.int8)
        except ValueError as error:
            raise ValueError(f"{error} (the labels of {X!r})") from None
        if reset:
            net.n_features_in_ = dataset_width(X)
        return EncodedTargets(X, net.classes_[1], sample_weight), y01, None
    if y is None:
        raise ValueError(
            f"This {type(net).__name__} estimator requires y to be "
            "passed, but the target y is None."
        )
    X, y = validate_data(net, X, y, dtype=np.float32, reset=reset, y_numeric=False)
    y01 = _encoded(net, y, reset)
    return X, y01, check_sample_weight(sample_weight, len(y01))


def dataset_labels(X, y):
    """The labels of the Dataset ``X``: ``y`` when given, else ``X.labels``."""
    if y is not None:
        return np.asarray(y)
    labels = getattr(X, "labels", None)
    if labels is None:
        raise ValueError(
            f"y is None and the dataset {type(X).__name__} has no "
            "`labels` attribute; pass y (the labels of its rows)"
        )
    return np.asarray(labels)


def _encoded(net, y, reset, dtype=np.float32):
    classes, y01 = encode_labels(y, None if reset else net.classes_, dtype)
    if reset:
        net.classes_ = classes
    return y01


def encode_labels(y, classes=None, dtype=np.float32):
    """``(classes, y01)``: the two sorted labels of ``y`` (or the ``classes`` given,
    which ``y`` must keep to) and ``y`` as 0/1 of ``dtype``, 1 for ``classes[1]``.

    int8 labels that are 0/1 already (a table's) come back as they are, not copied.

    Examples
    --------
    >>> classes, y01 = encode_labels(["b", "a", "b"])
    >>> classes.tolist(), y01.tolist()
    (['a', 'b'], [1.0, 0.0, 1.0])
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if y.dtype.itemsize == 1 and y.dtype.kind in "iub":
        # int8 labels of a table: counted, not sorted (np.unique's copy), and
        # integers are never continuous targets
        found = np.array(list(byte_value_counts(y)), dtype=y.dtype)
    else:
        check_classification_targets(y)
        found = np.unique(y)
    if classes is None:
        if len(found) != 2:
            kind = "only one class" if len(found) == 1 else f"{len(found)} classes"
            raise ValueError(
                f"Only binary classification is supported: y must hold exactly two "
                f"distinct labels, got {kind}: {found[:10].tolist()}"
            )
        classes = found
    elif not np.isin(found, classes).all():
        unseen = found[~np.isin(found, classes)].tolist()
        raise ValueError(
            f"y has labels {unseen} not seen in the first fit, whose "
            f"classes are {classes.tolist()}"
        )
    if y.dtype == dtype == np.int8 and classes.tolist() == [0, 1]:
        return classes, y  # 0/1 already (a table's labels): read, never written
    # Compared into the result: no array of flags as long as y on the way.
    encoded = np.empty(len(y), dtype=dtype)
    np.equal(y, classes[1], out=encoded, casting="unsafe")
    return classes, encoded


def check_classes(classes, fitted_classes):
    """Raise unless ``classes`` (``partial_fit``'s argument) is None or the labels
    seen."""
    if classes is not None and not np.array_equal(np.unique(classes), fitted_classes):
        raise ValueError(
            f"classes={list(classes)} differ from the labels seen, "
            f"{list(fitted_classes)}"
        )
