"""The training data of a fit: ``X``, ``y`` and ``sample_weight`` checked, the labels
encoded 0/1 against ``classes_``."""

import warnings

import numpy as np
import torch
from sklearn.utils import check_consistent_length
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, validate_data
from skorch.utils import is_dataset

from ..data.batches import EncodedTargets, byte_value_counts
from ..data.rows import dataset_width, in_storage_order
from ..data.split import light_valid_split
from ..scaling import scaling_sample
from ..seeds import torch_seed
from ..tables import TableEncoder
from ..tables.columns import needs_encoding
from ..weights import check_sample_weight


def n_rows(X):
    """Rows of the training data, without reading them."""
    return len(X) if is_dataset(X) else _num_samples(X)


def training_data(net, X, y, sample_weight, reset, encoded_by=None):
    """``(X, y01, sample_weight)`` to train ``net`` on.

    A Dataset comes back in storage order wrapped in :class:`EncodedTargets`, which
    carries the row weights itself (the third value is then ``None``); arrays are
    validated as float32 (``validate_data`` sets ``n_features_in_`` and
    ``feature_names_in_`` when ``reset``). A table (:func:`needs_encoding`) comes
    back encoded by a :class:`~skimb.tables.TableEncoder` (``net.table_encoder_``)
    learned on the training rows when ``reset``, and so is a table on disk (a
    ``SQLiteDataset`` with columns of its own), read through it.
    ``encoded_by``: an encoder fitted already (a bag's): in-memory ``X`` is the
    matrix it made, a table on disk is read through it. ``reset`` learns
    ``classes_``; otherwise the labels must be among them.
    """
    if reset:  # a new fit learns its own encoding, if any
        vars(net).pop("table_encoder_", None)
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
        X = table_dataset(net, X, y01, reset, encoded_by)
        return EncodedTargets(X, net.classes_[1], sample_weight), y01, None
    if y is None:
        raise ValueError(
            f"This {type(net).__name__} estimator requires y to be "
            "passed, but the target y is None."
        )
    if encoded_by is not None:
        net.table_encoder_ = encoded_by
    elif reset and needs_encoding(X, net.categorical):
        X, y01 = fitted_table(net, X, y)
        return X, y01, check_sample_weight(sample_weight, len(y01))
    elif getattr(net, "table_encoder_", None) is not None:
        X = table_input(net, X)
        check_consistent_length(X, y)
        y01 = _encoded(net, np.asarray(y), reset)
        return X, y01, check_sample_weight(sample_weight, len(y01))
    X, y = validate_data(net, X, y, dtype=np.float32, reset=reset, y_numeric=False)
    y01 = _encoded(net, y, reset)
    return X, y01, check_sample_weight(sample_weight, len(y01))


def table_dataset(net, X, y01, reset, encoded_by=None):
    """The Dataset ``X`` as the network reads it: a table on disk (``X.is_table``)
    read through ``encoded_by``, a new encoder learned on its training rows
    (``reset``), or the fitted ``net.table_encoder_``; anything else as it is."""
    if not getattr(X, "is_table", False):
        return X
    if encoded_by is None and reset:
        encoded_by = fitted_table_dataset(net, X, y01)
    encoded_by = encoded_by or getattr(net, "table_encoder_", None)
    if encoded_by is None:
        raise ValueError(
            f"{X!r} is a table with columns of its own, but the model was fitted "
            "on float vectors; fit it on the table first"
        )
    net.table_encoder_ = encoded_by
    return X.encoded_by(encoded_by)


def dataset_input(net, X):
    """A Dataset to predict on: a table on disk read through the fitted
    encoding, anything else as it is."""
    if not getattr(X, "is_table", False):
        return X
    return table_dataset(net, X, None, reset=False)


def fitted_table_dataset(net, X, y01, train_rows="split", seed=None):
    """A :class:`TableEncoder` learned on the training rows of the table on disk
    ``X`` with streamed passes: the numbers' statistics from the scaling sample of
    those rows (whole blocks, at most ``SCALING_SAMPLE_ROWS``), the vocabularies
    from an exact count over all of them. ``train_rows`` as for
    :func:`fitted_table`; ``seed`` draws the sample (None: from torch's RNG)."""
    train_rows = _training_rows(net, y01, train_rows)
    if train_rows is None:
        train_rows = np.arange(len(X))
    train_rows = np.asarray(train_rows)
    seed = torch_seed() if seed is None else seed
    generator = torch.Generator().manual_seed(seed)
    sample = scaling_sample(X.storage_positions(train_rows), generator)
    sample_rows = train_rows if sample is None else train_rows[sample]
    options = net.get_params_for("table")
    options.pop("target_encoding", None)  # needs every row's category in memory
    encoder = TableEncoder(categorical=X.categorical_columns, **options)
    return encoder.fit_stream(
        X.read_frame(sample_rows), X.category_counts(train_rows), scaling=net.scaling
    )


def _training_rows(net, y01, train_rows):
    """``train_rows``, or for ``"split"`` the rows skorch's default stratified
    split keeps for training (None, all rows, for any other split)."""
    if isinstance(train_rows, str):
        rows = light_valid_split(net.train_split, y01)
        train_rows = None if rows is None else rows[0]
    return train_rows


def table_encoder(net):
    """A :class:`TableEncoder` from ``net.categorical`` and the ``table__*``
    options."""
    return TableEncoder(categorical=net.categorical, **net.get_params_for("table"))


def fitted_table(net, X, y, folds=5, seed=None, train_rows="split"):
    """``(packed X, y01)``: the table ``X`` encoded by a new ``net.table_encoder_``
    learned on the training rows, with ``classes_``, ``n_features_in_`` and
    ``feature_names_in_`` of ``X`` set on ``net``.

    The training rows: those ``net.train_split`` keeps for training when it is
    skorch's default stratified split (computed here as the fit computes it), else
    all rows (``train_rows=None``: a bag's, whose every row trains some network; no
    statistic reads a label but the target encoding, which is cross-fitted on the
    bag's own ``folds``, seeded ``seed``).
    """
    validate_data(net, X, skip_check_array=True, reset=True)
    y = np.asarray(y)
    check_consistent_length(X, y)
    y01 = _encoded(net, y, reset=True)
    train_rows = _training_rows(net, y01, train_rows)
    if seed is None:
        seed = torch_seed() % 2**32
    encoder = table_encoder(net)
    packed = encoder.fit_transform(
        X, y01, train_rows, scaling=net.scaling, folds=folds, random_state=seed
    )
    net.table_encoder_ = encoder
    return packed, y01


def table_input(net, X):
    """In-memory ``X`` as the fitted model takes it: encoded by
    ``net.table_encoder_`` when the model was fitted on a table (column names and
    count checked), else validated as float32."""
    if getattr(net, "table_encoder_", None) is None:
        return validate_data(net, X, dtype=np.float32, reset=False)
    validate_data(net, X, skip_check_array=True, reset=False)
    return net.table_encoder_.transform(X)


def dataset_labels(X, y):
    """The labels of the Dataset ``X``: ``y`` when given, else ``X.labels``, else
    read with one pass over its ``(x, label)`` pairs (as skorch reads them)."""
    if y is not None:
        return np.asarray(y)
    labels = getattr(X, "labels", None)
    if labels is None:
        labels = [_scalar(X[i][1]) for i in range(len(X))]
    return np.asarray(labels)


def _scalar(label):
    if isinstance(label, torch.Tensor) or isinstance(label, np.ndarray):
        return label.item()
    return label


def _encoded(net, y, reset, dtype=np.float32):
    classes, y01 = encode_labels(y, None if reset else net.classes_, dtype)
    if reset:
        net.classes_ = classes
        warn_if_positive_is_majority(classes, y01)
    return y01


def warn_if_positive_is_majority(classes, y01):
    """Warn when ``classes[1]``, which every imbalance mechanism treats as the rare
    positive class (scikit-learn's rule: the later label), is the majority."""
    n_positive = int(np.count_nonzero(y01))
    if 2 * n_positive <= len(y01):
        return
    share = n_positive / len(y01)
    classes = np.asarray(classes).tolist()  # 'ok', not np.str_('ok')
    warnings.warn(
        f"the positive class classes_[1]={classes[1]!r} is the majority class "
        f"({share:.0%} of the rows; classes_[0]={classes[0]!r} has "
        f"{1 - share:.0%}): pos_weight, the samplers, prior correction, the F1 "
        "threshold and the scorers all treat classes_[1] as the rare class. "
        f"Encode the labels so that the rare class sorts last, e.g. "
        f"y == {classes[0]!r}",
        UserWarning,
        stacklevel=4,
    )


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
