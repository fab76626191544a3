"""Cross-fit bagging: k networks, each validated on its own fold of the training rows.

On small imbalanced data one validation split holds a dozen positives, so the epoch
it selects and the threshold it tunes are noisy, and the 20% it holds out are never
trained on. With ``bagging=k`` the classifier instead fits ``k`` networks on the
folds of a stratified k-fold split of the training rows: network ``j`` trains on
every fold but ``j`` and selects its epoch on fold ``j``. Then

* every training row has an out-of-fold prediction, from the one network that did
  not train on it, and ``threshold="f1"`` is the F1-optimal threshold on all of
  them (``k`` times the positives one split holds);
* ``predict_proba`` is the mean of the ``k`` networks' prior-corrected
  probabilities: an ensemble, which usually ranks better than its networks do
  alone, and every row was trained on by ``k - 1`` of them.

This is the bagging of AutoGluon's tabular models (Erickson et al., 2020) and the
``ensemble=True`` mode of scikit-learn's ``CalibratedClassifierCV``. Fitted one
after another the ``k`` networks cost ``k`` fits; where the network can be packed
(the built-in MLP), they are trained side by side as one module in one fit
(:mod:`skimb.packing`; ``bagging__packed=False`` asks for the sequential fits).
``"auto"`` bags up to ``AUTO_MAX_ROWS`` training rows (the quality benchmark's
measurements are in ``docs/defaults.md``).
"""

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import clone
from torch.utils.data import Subset

from .checkpoints import member_folder
from .data.split import fold_of_rows, stratified_folds
from .modules.ensembles import ensemble_size
from .packing.fit import fit_packed
from .packing.module import packing_refusal
from .seeds import derived_seed
from .tables.columns import needs_encoding
from .thresholds import f1_optimal_threshold
from .training.inputs import (
    dataset_labels,
    encode_labels,
    fitted_table,
    fitted_table_dataset,
)

#: ``bagging="auto"`` bags data sets of at most this many training rows.
AUTO_MAX_ROWS = 20_000


def n_bags(bagging, train_split, n_rows, auto=True):
    """How many networks a fit trains (1: no bagging).

    ``"auto"``: as many as the default ``train_split`` has folds (``ValidSplit(5)``:
    5) when there are at most ``AUTO_MAX_ROWS`` rows; no bagging with another or no
    ``train_split``, on larger data, or where the caller says ``auto=False``
    (``warm_start``, accelerate). An int ``k >= 2``: ``k`` networks (``True``: 5).
    ``None``, ``False`` or 1: one network.

    Examples
    --------
    >>> from skorch.dataset import ValidSplit
    >>> n_bags("auto", ValidSplit(5, stratified=True), 1_000)
    5
    >>> n_bags("auto", ValidSplit(5, stratified=True), 100_000)
    1
    >>> n_bags("auto", None, 1_000), n_bags(3, None, 10**6), n_bags(False, None, 10)
    (1, 3, 1)
    """
    if bagging is None or bagging is False:
        return 1
    if bagging == "auto":
        folds = stratified_folds(train_split)
        if not auto or folds is None or n_rows > AUTO_MAX_ROWS:
            return 1
        return folds
    if bagging is True:
        return 5
    return int(bagging)


def check_bagging(bagging, options=None):
    """Raise a ValueError naming ``bagging`` unless it is a valid value, or naming
    a ``bagging__*`` option (``options``) that is not ``packed`` (a bool)."""
    for name, value in (options or {}).items():
        if name != "packed":
            raise ValueError(
                f"bagging__{name} is not an option of bagging; the one option is "
                "bagging__packed (True or False)"
            )
        if not isinstance(value, bool):
            raise ValueError(f"bagging__packed must be True or False, got {value!r}")
    if bagging is None or isinstance(bagging, bool) or bagging == "auto":
        return
    if isinstance(bagging, numbers.Integral) and bagging >= 1:
        return
    raise ValueError(
        f"bagging must be 'auto', None, a bool or an int >= 1 (the number of "
        f"networks), got {bagging!r}"
    )


class FoldSplit:
    """A skorch ``train_split``: fold ``fold`` of a stratified ``n_folds``-fold split
    is the validation set, the other folds the training set.

    Every network of a bag gets the same ``seed``, hence the same partition, so the
    validation folds cover each row exactly once.

    Examples
    --------
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> valid = [FoldSplit(4, j, seed=0).indices(y)[1] for j in range(4)]
    >>> sorted(np.concatenate(valid).tolist()) == list(range(12))
    True
    >>> [int(y[v].sum()) for v in valid]
    [1, 1, 1, 1]
    """

    def __init__(self, n_folds, fold, seed):
        self.n_folds = n_folds
        self.fold = fold
        self.seed = seed

    def indices(self, y):
        """``(train, valid)`` row indices for labels ``y``."""
        folds = fold_of_rows(y, self.n_folds, self.seed)
        return np.flatnonzero(folds != self.fold), np.flatnonzero(folds == self.fold)

    def __call__(self, dataset, y=None, groups=None):
        if y is None:
            raise ValueError("bagging needs the labels of the training rows")
        train, valid = self.indices(y)
        return Subset(dataset, train), Subset(dataset, valid)

    def __repr__(self):
        return f"FoldSplit(n_folds={self.n_folds}, fold={self.fold}, seed={self.seed})"


class BaggedModule(torch.nn.Module):
    """The networks of a bag as one module: logits of shape ``(n, k)``, one column per
    network (more when a network is itself an ensemble), each already scaled and
    prior-corrected as its own fit did (``scalers``, ``logit_shifts``), so the
    classifier averages their probabilities and shifts nothing more.

    ``partial_fit`` (or ``fit`` with ``warm_start=True``) trains a bag on as one
    ensemble: every network on every training row, the mean of their losses, and a
    prior correction of the continued training on top (the shifts inside are then
    constants the networks' logits absorb)."""

    def __init__(self, members, scalers, logit_shifts):
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.scalers = list(scalers)
        self.register_buffer(
            "logit_shifts", torch.as_tensor(logit_shifts, dtype=torch.float32)
        )

    @property
    def n_bags(self):
        return len(self.members)

    @property
    def ensemble_size(self):
        return sum(ensemble_size(m) for m in self.members)

    def forward(self, X):
        columns = []
        for member, scaler, shift in zip(
            self.members, self.scalers, self.logit_shifts, strict=True
        ):
            logits = member(X if scaler is None else scaler.transform(X))
            if isinstance(logits, tuple):
                logits = logits[0]
            columns.append(logits.reshape(len(X), -1).float() - shift)
        return torch.cat(columns, dim=1)


#: What a bag sets on the classifier beyond a single network's fitted attributes;
#: a later fit of one network removes them.
BAG_ATTRIBUTES = ("best_epochs_", "bag_histories_", "bag_packed_")
#: The last network's fitted attributes the bag takes as its own.
SHARED_ATTRIBUTES = (
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "batch_size_",
    "max_epochs_",
    "sampler_",
)


def fit_bagged(net, X, y, sample_weight, bags, **fit_params):
    """Fit ``bags`` networks on the folds of the training rows and make ``net``
    their bag (see the module docstring). Returns ``net``.

    Packed where :func:`~skimb.packing.module.packing_refusal` finds nothing
    against it: one fit of the packed module (:mod:`skimb.packing`). Otherwise
    ``bags`` clones, each fitted by :meth:`ImbalancedNetClassifier.fit_scored`,
    which returns the scores of its validation fold. Either way the bag's
    threshold is tuned on all the out-of-fold scores together."""
    seed = net.random_state
    fold_seed = derived_seed(seed)
    table = None
    vars(net).pop("table_encoder_", None)
    if getattr(X, "is_table", False):  # on disk: one encoding of all its rows
        y01 = encode_labels(dataset_labels(X, y), dtype=np.int8)[1]
        table = fitted_table_dataset(net, X, y01, train_rows=None, seed=fold_seed)
        raw_columns = {}
    elif needs_encoding(X, net.categorical):
        # One encoding for the bag, learned on all its rows, the target encoding
        # cross-fitted on the bag's folds: network j's validation fold is encoded
        # from its training folds alone.
        X, _ = fitted_table(net, X, y, folds=bags, seed=fold_seed, train_rows=None)
        table = net.table_encoder_
        raw_columns = {
            name: getattr(net, name)
            for name in ("n_features_in_", "feature_names_in_")
            if hasattr(net, name)
        }
    refusal = packing_refusal(net, X)
    if refusal is None:
        _fit_packed_bag(net, X, y, sample_weight, bags, fold_seed, table, fit_params)
    else:
        _fit_sequential_bag(
            net, X, y, sample_weight, bags, fold_seed, table, fit_params
        )
    net.bag_packed_ = refusal is None
    if table is not None:
        net.table_encoder_ = table
        if raw_columns:
            vars(net).pop("feature_names_in_", None)
        for name, value in raw_columns.items():
            setattr(net, name, value)
    return net


def _fit_packed_bag(net, X, y, sample_weight, bags, fold_seed, table, fit_params):
    """The bag as one packed module (:mod:`skimb.packing`)."""
    if net.verbose:
        print(f"bag of {bags}, packed")
    packed = fit_packed(net, X, y, sample_weight, bags, fold_seed, table, fit_params)
    last = packed.net
    if getattr(last, "fit_interrupted_", False):
        warnings.warn(
            "the fit was interrupted (KeyboardInterrupt) while training the packed "
            f"bag of {bags} networks: each network is at its best epoch until then",
            UserWarning,
            stacklevel=4,
        )
    _become_bag(
        net,
        last,
        packed.module,
        packed.pos_weights,
        packed.best_epochs,
        packed.histories,
        [packed.scores],
    )
    # A fit that goes on (partial_fit) trains the bag as one ensemble: with the
    # callbacks of one network's fit in place of those that scored and selected
    # its members (the user's instances keep their state).
    fresh = dict(net.get_default_callbacks())
    net.callbacks_ = [
        (name, fresh[name].initialize() if name in PACKED_CALLBACKS else callback)
        for name, callback in net.callbacks_
        if name in fresh or name not in PACKED_CALLBACKS
    ]
    net.fit_interrupted_ = last.fit_interrupted_


#: The callbacks of a packed fit that a fit of one network has in other forms.
PACKED_CALLBACKS = ("validation_scores", "early_stopping", "print_log")


def _fit_sequential_bag(net, X, y, sample_weight, bags, fold_seed, table, fit_params):
    """The bag's networks fitted one after another, each a clone of ``net``."""
    seed = net.random_state
    members, scores = [], []
    for fold in range(bags):
        member = clone(net).set_params(
            bagging=None,
            train_split=FoldSplit(bags, fold, fold_seed),
            random_state=None if seed is None else derived_seed(seed, fold),
            # one checkpoint per network: the finished ones resume as finished
            checkpoint=None
            if net.checkpoint is None
            else member_folder(net.checkpoint, fold),
        )
        # The user's callback instances, as a fit without bagging uses them (each
        # network's fit initializes them again; they end with the last one's state).
        member.callbacks = net.callbacks
        if net.verbose:
            print(f"bag {fold + 1}/{bags}")
        scores.append(
            member.fit_scored(
                X, y, sample_weight=sample_weight, encoded_by=table, **fit_params
            )
        )
        members.append(member)
        if getattr(member, "fit_interrupted_", False):
            warnings.warn(
                f"the fit was interrupted (KeyboardInterrupt) while training network "
                f"{fold + 1} of {bags}: the model is the bag of the {fold + 1} "
                "trained so far, the last at its best epoch until then",
                UserWarning,
                stacklevel=4,
            )
            break
    last = members[-1]
    module = BaggedModule(
        [m.module_ for m in members],
        [m.scaler_ for m in members],
        [m.logit_shift_ for m in members],
    )
    _become_bag(
        net,
        last,
        module,
        [m.pos_weight_ for m in members],
        [m.best_epoch_ for m in members],
        [m.history for m in members],
        scores,
    )
    net.fit_interrupted_ = last.fit_interrupted_


def _become_bag(net, last, module, pos_weights, best_epochs, histories, scores):
    """Make ``net`` the bag whose networks ``module`` holds, with the fitted
    attributes of ``last`` (the last network's fit, or the packed one's) and the
    threshold tuned on the networks' out-of-fold ``scores``."""
    for name in SHARED_ATTRIBUTES:
        if hasattr(last, name):
            setattr(net, name, getattr(last, name))
    # The bag's own criterion, optimizer and skorch's registries of them; the
    # callbacks are the last network's, whose state the user's instances carry
    # (initializing them again would reset it).
    callbacks, net.callbacks = net.callbacks, "disable"
    try:
        with net._fit_context(epochs_done=0):
            net.initialize()
    finally:
        net.callbacks = callbacks
    net.callbacks_ = last.callbacks_
    net.module_ = module.to(_device_of(last.module_))
    net.initialize_optimizer()
    net.history_ = last.history_
    net.scaler_ = None  # inside module_, network by network
    net.logit_shift_ = 0.0  # inside module_ too
    net.pos_weight_ = float(np.mean(pos_weights))
    net.best_epochs_ = list(best_epochs)
    net.best_epoch_ = last.best_epoch_
    net.bag_histories_ = list(histories)
    net.n_bags_ = module.n_bags
    if net.threshold == "f1":
        targets, proba, weights = (
            None if parts[0] is None else np.concatenate(parts)
            for parts in zip(*scores, strict=True)
        )
        # The F1-optimal threshold against the labels: on the predictions of all
        # training rows it is no longer the noisy estimate it is on one validation
        # fold, which skimb.thresholds.tuned_threshold steadies with the expected F1
        # (development run in docs/defaults.md: mean F1 0.627 vs 0.603 with that
        # mean).
        net.threshold_ = f1_optimal_threshold(targets, proba, weights)
    else:
        net.threshold_ = float(net.threshold)


def _device_of(module):
    parameter = next(module.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device
