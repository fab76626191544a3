"""ImbalancedNetClassifier: skorch's binary classifier, set up for rare positives."""

import inspect
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data
from skorch import NeuralNet, NeuralNetBinaryClassifier
from skorch.callbacks import (
    EpochTimer,
    GradientNormClipping,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_numpy
from torch.utils.data import BatchSampler

from ._params import check_params, check_sample_weight
from .bagging import fit_bagged, n_bags
from .batch_loop import LeanBatchLoop
from .budget import resolve_budget
from .data.batches import (
    ArrayDataset,
    BatchRows,
    EncodedTargets,
    IndexSubset,
    batch_sampler_for,
    byte_value_counts,
    collate,
)
from .data.read_once import held_if_small
from .data.rows import (
    cache_blocks,
    dataset_width,
    hold_rare_rows,
    in_storage_order,
    reads_in_blocks,
    sorted_subset,
    storage_positions,
    subset_labels,
)
from .data.split import light_valid_split
from .data.sqlite import BLOCK_ROWS
from .devices import data_device, on_cuda, resolve_device
from .history import close_epoch
from .losses import FocalLoss, weighted_loss
from .modules import recipe_of, resolve_module
from .prior import member_proba, odds_distortion
from .progress import epoch_bar, progress
from .samplers import DEFAULT_WINDOW, SAMPLERS, BatchBalancedSampler
from .scaling import FeatureScaler, scaling_sample
from .schedules import SCHEDULES
from .selection import BestEpoch
from .threads import cooperative_threads
from .thresholds import tuned_threshold
from .validation import ScoredRows, ValidationScores
from .weights import class_counts, resolve_pos_weight

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Smallest batch for validation and prediction with ``batch_size="auto"``.
INFERENCE_BATCH_SIZE = 1024


class ImbalancedNetClassifier(LeanBatchLoop, NeuralNetBinaryClassifier):
    """A scikit-learn classifier on a PyTorch module, for imbalanced binary data.

    A :class:`skorch.NeuralNetBinaryClassifier` whose loss, positive weight, batch
    sampling and weight schedule are parameters, so ``GridSearchCV`` can search them.
    Every skorch parameter keeps working (``max_epochs``, ``lr``, ``batch_size``,
    ``callbacks``, ``train_split``, ``module__*``, ``iterator_train__*``, ...).

    The positive class is ``classes_[1]``: the later of the two labels in
    ``np.unique`` order, as in scikit-learn's scorers.

    Parameters
    ----------
    module : None, "mlp", "realmlp", "tabm", nn.Module class or instance, \
default=None
        The network; it returns one logit per row, shape ``(n,)`` or ``(n, 1)``, or
        one per row and ensemble member, shape ``(n, k)`` (trained on the mean of the
        members' losses; predicting the mean of their prior-corrected
        probabilities). ``None`` is the default network, :class:`skimb.modules.MLP`
        (the quality benchmark's choice, see the README); the names pick
        :class:`skimb.modules.MLP`, :class:`skimb.modules.RealMLP` or
        :class:`skimb.modules.TabM`. A module class that takes ``input_dim`` gets
        it from ``X`` at fit time; options via ``module__*``.
    loss : {"bce", "focal"}, default="bce"
        ``BCEWithLogitsLoss`` or :class:`skimb.losses.FocalLoss`.
    pos_weight : None, float > 0, "balanced", "sqrt" or callable, default="balanced"
        Weight of the positive class in the loss. ``"balanced"`` is n_neg / n_pos,
        ``"sqrt"`` its square root, a callable ``f(y) -> float`` receives 0/1 labels
        (see :func:`skimb.weights.effective_number`). Names and callables are resolved
        on the class counts one epoch presents to the loss: the training rows after
        the internal validation split, as the ``sampler`` resamples them. A float is
        used as given; ``None`` means 1.
    focal_alpha : None or float in [0, 1], default=0.25
        Focal loss alpha (only with ``loss="focal"``).
    focal_gamma : float >= 0, default=2.0
        Focal loss gamma (only with ``loss="focal"``).
    sampler : None, "batch_balanced", "weighted", "undersample", "oversample",
        "block_shuffle", or a torch Sampler class or instance, default=None
        How training batches are drawn (see :mod:`skimb.samplers`); options via
        ``sampler__*``. ``None`` shuffles: a plain random order for in-memory data,
        ``"block_shuffle"`` (a shuffle that keeps reads near-sequential) for data
        read from disk, i.e. a :class:`~skimb.data.SQLiteDataset` or any dataset
        with ``reads_in_blocks = True``; there ``"batch_balanced"`` reads its
        negatives in blocks too (``sampler__block_size=256``), and
        ``sampler=torch.utils.data.RandomSampler`` asks for a plain shuffle.
        ``sampler_`` shows the choice. A
        class is built as ``cls(train_labels, **sampler__kwargs)``; an instance is
        used as given. Training and validation rows are read in storage order
        (split indices, and a permuted ``SQLiteDataset`` view, are sorted), so the
        sampler alone decides the training order.
    weight_schedule : None, "linear", "plateau", "deferred" or a
        :class:`skimb.schedules.WeightSchedule`, default=None
        How the positive weight moves over epochs; options via ``weight_schedule__*``.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when available, else on the CPU.
    random_state : None or int, default=None
        An int makes ``fit`` reproducible (weights, split, shuffling, samplers,
        dropout) and leaves torch's global RNG as it was.
    precision : None, "bf16" or "fp16", default=None
        Mixed precision: forward passes under ``torch.autocast``; the loss is always
        computed in float32. ``"fp16"`` on CUDA also scales the gradients.
    batch_size : int or "auto", default="auto"
        Rows per training batch. ``"auto"``: ``2 ** round(log2(n) - 4)`` clipped to
        [32, 512], for the ``n`` rows given to ``fit`` (:mod:`skimb.budget`): about
        16 steps an epoch on small data, 512-row batches from ~6,000 rows on.
        Prediction uses at least 1,024 rows a batch.
    max_epochs : int or "auto", default="auto"
        ``"auto"``: enough epochs for about 10,000 optimizer steps, at least 20 and
        at most 200 (:mod:`skimb.budget`). With ``early_stopping`` this is an upper
        bound.
    early_stopping : "auto", bool, default="auto"
        Select the epoch with the best validation score and restore its weights at
        the end of ``fit`` (:class:`skimb.selection.BestEpoch`); stop once it has not
        improved for ``patience`` epochs. ``"auto"``: on when there is a validation
        split. Options via ``early_stopping__*`` (``monitor="valid_ap"``,
        ``smoothing=0.5``, ``patience="auto"``, ``min_delta=0.005``,
        ``tie_monitor="valid_loss"``: epochs within ``min_delta`` of the best score
        tie, and the lowest validation loss wins; ``lower_is_better``).
    bagging : "auto", None, bool or int, default="auto"
        Cross-fit bagging (:mod:`skimb.bagging`): ``k`` networks, network ``j``
        trained on all folds of a stratified k-fold split of the training rows but
        fold ``j``, which selects its epoch; ``threshold="f1"`` is tuned on the
        out-of-fold predictions of all training rows, and ``predict_proba`` is the
        mean of the networks' prior-corrected probabilities. Costs ``k`` fits.
        ``"auto"``: 5 networks (the folds of the default ``ValidSplit(5)``) on data
        of at most 20,000 rows, where one validation split is small and noisy and
        fits are cheap; one network on larger data, with another or no
        ``train_split``, with ``warm_start``, or for a module instance (trained as
        given). An int ``k >= 2``: ``k`` networks; ``None``, ``False`` or 1: one.
        ``partial_fit`` after bagging trains the bag on as one ensemble.
    threshold : float in (0, 1) or "f1", default="f1"
        Decision threshold of ``predict`` on ``predict_proba(X)[:, 1]``. ``"f1"``
        tunes it for F1 on the validation split, with the selected epoch's weights:
        the mean of the F1-optimal threshold against the labels and the one that
        maximises the expected F1 under the predicted probabilities
        (:func:`skimb.thresholds.tuned_threshold`). With ``bagging``: the
        F1-optimal threshold on the out-of-fold predictions of all training rows.
        Without a validation split the same rule runs on the training rows, an
        optimistic fallback: prefer a split, or ``TunedThresholdClassifierCV``.
    prior_correction : bool, default=True
        ``predict_proba`` undoes the shift of the class prior that the positive
        weight, the sampler and the focal ``alpha`` cause: the logit minus
        ``logit_shift_`` (:mod:`skimb.prior`). Probabilities are then calibrated to
        the class balance of the training data; rankings do not change.
    scaling : None, "standard" or "robust", default="standard"
        Scale features with statistics of the training rows, streamed batch by
        batch for a Dataset (:mod:`skimb.scaling`): ``"standard"`` by mean and
        standard deviation, ``"robust"`` by median and interquartile range with a
        smooth clip to about +-3. Raw features need no scaler in front.
    progress : "auto" or bool, default="auto"
        tqdm progress bars over the batches of each epoch and over passes through a
        Dataset (scaling statistics, threshold, ``predict_proba``). ``"auto"``:
        with ``verbose``, a bar shows once such a pass has run for 2 seconds, so
        quick fits print nothing extra; ``True``: always; ``False``: never.
    optimizer : "auto" or torch optimizer class, default="auto"
        ``"auto"``: the network's own recipe (:class:`skimb.modules.Recipe`):
        Adam for ``MLP`` and networks of the user's own, Adam with
        ``betas=(0.9, 0.95)`` for ``RealMLP``, AdamW with weight decay 3e-4 and
        gradient norm clipping at 1 for ``TabM``. ``optimizer__*`` options win over
        the recipe's.
    lr : "auto" or float, default="auto"
        ``"auto"``: the recipe's learning rate (1e-3 for ``MLP`` and networks of
        the user's own, 2e-3 for ``RealMLP`` and ``TabM``).
    dataset : Dataset class, default=skimb.data.ArrayDataset
        In-memory arrays are held as tensors and fetched a batch at a time, as index
        arrays (no per-row Python). ``dataset__device="auto"`` (the default) keeps
        them on the GPU for the fit when training there and they take at most a
        quarter of its free memory; ``dataset__device=None`` keeps them in CPU
        memory.
    **kwargs
        Any other skorch parameter or prefixed option.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; ``classes_[1]`` is the positive class.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    pos_weight_ : float
        The resolved positive weight (before any schedule).
    batch_size_, max_epochs_ : int
        The training budget of the last fit, ``"auto"`` resolved.
    best_epoch_ : int or None
        1-based epoch (row of ``history``) whose weights the module holds, or
        ``None`` when no epoch was selected.
    threshold_ : float
        The threshold ``predict`` applies.
    logit_shift_ : float
        What ``predict_proba`` subtracts from the logits (0 without
        ``prior_correction``; 0 after bagging, whose networks each subtract their
        own inside ``module_``).
    n_bags_ : int
        Networks trained by the last ``fit`` (1 without bagging).
    best_epochs_, bag_histories_ : list
        After bagging: each network's ``best_epoch_`` and ``history``
        (``best_epoch_`` and ``history`` are the last network's, and
        ``module_`` is a :class:`skimb.bagging.BaggedModule` of all of them).
    scaler_ : FeatureScaler or None
        The fitted feature scaling.
    sampler_ : Sampler or None
        The sampler of the last fit.
    device_ : str
        The device the module lives on.
    history_ : skorch History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_roc_auc``, ``valid_ap``,
        ``valid_f1``, ``valid_log_loss`` and ``pos_weight`` (the weight in force).
        Each finished epoch's ``batches`` read as skorch's list of dicts, stored
        by column (:class:`skimb.history.BatchColumns`, read-only; ~16 bytes a
        batch instead of ~360).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimb import ImbalancedNetClassifier
    >>> X, y = make_classification(2000, weights=[0.95], random_state=0)
    >>> clf = ImbalancedNetClassifier(random_state=0, verbose=0)
    >>> clf.fit(X, y).predict_proba(X[:3]).shape
    (3, 2)
    >>> clf.pos_weight_ > 10, 0 < clf.threshold_ < 1, clf.best_epoch_ >= 1
    (True, True, True)
    >>> [k for k in ("valid_loss", "valid_roc_auc", "valid_ap", "valid_f1")
    ...  if k in clf.history[-1]]
    ['valid_loss', 'valid_roc_auc', 'valid_ap', 'valid_f1']
    """

    #: Set on the networks of a bag: keep the scored threshold rows (skimb.bagging).
    _keep_threshold_inputs = False
    #: Whether bagging="auto" may bag (the accelerated subclass trains one model).
    _bags_by_default = True

    prefixes_ = NeuralNetBinaryClassifier.prefixes_ + [
        "sampler",
        "weight_schedule",
        "early_stopping",
    ]

    def __init__(
        self,
        module=None,
        *,
        loss="bce",
        pos_weight="balanced",
        focal_alpha=0.25,
        focal_gamma=2.0,
        sampler=None,
        weight_schedule=None,
        device="auto",
        random_state=None,
        precision=None,
        batch_size="auto",
        max_epochs="auto",
        early_stopping="auto",
        bagging="auto",
        threshold="f1",
        prior_correction=True,
        scaling="standard",
        progress="auto",
        optimizer="auto",
        lr="auto",
        dataset=ArrayDataset,
        **kwargs,
    ):
        super().__init__(
            module,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            threshold=threshold,
            dataset=dataset,
            device=device,
            **kwargs,
        )
        self.loss = loss
        self.pos_weight = pos_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.sampler = sampler
        self.weight_schedule = weight_schedule
        self.random_state = random_state
        self.precision = precision
        self.early_stopping = early_stopping
        self.bagging = bagging
        self.prior_correction = prior_correction
        self.scaling = scaling
        self.progress = progress

    # -- parameters ----------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.target_tags.required = True
        return tags

    def _get_param_names(self):
        # skorch stores `_params_to_validate` in __init__; it is no parameter.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    @property
    def classes_(self):
        try:
            return self.__dict__["classes_"]
        except KeyError:
            raise AttributeError("classes_ is set by fit") from None

    @classes_.setter
    def classes_(self, value):
        self.__dict__["classes_"] = value

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("validation_scores", ValidationScores()),
        ]

    def get_default_callbacks(self):
        # Order matters at the end of an epoch: scores, then the selection that
        # reads them, then the printed row.
        callbacks = list(super().get_default_callbacks())
        schedule = self._make_schedule()
        if schedule is not None:
            callbacks.append(("weight_schedule", schedule))
        if self._selects_epoch():
            options = self.get_params_for("early_stopping")
            callbacks.append(("early_stopping", BestEpoch(**options)))
        clip = recipe_of(resolve_module(self.module)).gradient_clip
        if clip is not None and self.optimizer == "auto":
            callbacks.append(("gradient_clipping", GradientNormClipping(clip)))
        bar = epoch_bar(self)
        if bar is not None:
            callbacks.append(("progress_bar", bar))
        callbacks.append(("print_log", QuietPrintLog()))
        return callbacks

    def _selects_epoch(self):
        if self.early_stopping == "auto":
            return self.train_split is not None
        return bool(self.early_stopping)

    # -- fitting -----------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Initialize the module (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), DataFrame, or torch Dataset
            Training data; a Dataset yields ``(x, label)`` pairs
            (e.g. :class:`skimb.data.SQLiteDataset`).
        y : array-like of shape (n_samples,) or None
            Two distinct labels. May be ``None`` when ``X`` has a ``labels``
            attribute, as ``SQLiteDataset`` has.
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative row weights, multiplying each row's loss on top of
            ``pos_weight`` (normalised to mean 1, so their scale does not matter),
            and weighting the validation scores and the threshold search. Routed by
            scikit-learn's metadata routing (``set_fit_request(sample_weight=True)``).
        **fit_params
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self
        """
        check_params(self)
        bags = n_bags(
            self.bagging,
            self.train_split,
            _n_rows(X),
            # a module instance is trained as given, not copied k times
            auto=self._bags_by_default
            and not self.warm_start
            and not isinstance(self.module, torch.nn.Module),
        )
        if bags > 1:
            return fit_bagged(self, X, y, sample_weight, bags, **fit_params)
        with self._fit_context(epochs_done=0):
            X, y = self._prepare_training_data(X, y, sample_weight, reset=True)
            if not self.warm_start or not self.initialized_:
                self.initialize()
                self.scaler_ = None
            # Skip our partial_fit: the data are prepared already.
            super().partial_fit(X, y, _routing_method="fit", **fit_params)
            self._finish_fit()
        return self

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing the module.

        Parameters are as in :meth:`fit`; ``classes`` is accepted for scikit-learn
        compatibility and checked against ``classes_``. The feature scaling of the
        first call is kept.

        Returns
        -------
        self
        """
        check_params(self)
        first_call = not self.initialized_
        epochs_done = 0 if first_call else len(self.history)
        with self._fit_context(epochs_done=epochs_done):
            X, y = self._prepare_training_data(X, y, sample_weight, reset=first_call)
            if classes is not None and not np.array_equal(
                np.unique(classes), self.classes_
            ):
                raise ValueError(
                    f"classes={list(classes)} differ from the labels seen, "
                    f"{list(self.classes_)}"
                )
            if first_call:
                self.scaler_ = None
            super().partial_fit(X, y, **fit_params)
            self._finish_fit()
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if epochs is None:
            epochs = self.max_epochs_
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def _prepare_training_data(self, X, y, sample_weight, reset):
        """Validate ``X``, ``y`` and ``sample_weight``; resolve the training budget.

        Returns the data to train on and 0/1 targets.
        """
        if is_dataset(X):
            labels = self._dataset_labels(X, y)
            sample_weight = check_sample_weight(sample_weight, len(labels))
            X, labels, sample_weight = in_storage_order(X, labels, sample_weight)
            try:
                # int8: only the split and the sampler read them (the batches'
                # float targets come from EncodedTargets), 1 byte a row
                y01 = self._encode_labels(labels, reset=reset, dtype=np.int8)
            except ValueError as error:
                raise ValueError(f"{error} (the labels of {X!r})") from None
            if reset:
                self.n_features_in_ = dataset_width(X)
            X = EncodedTargets(X, self.classes_[1], sample_weight)
            self._fit_sample_weight = None  # carried by X itself
        else:
            if y is None:
                raise ValueError(
                    f"This {type(self).__name__} estimator requires y to be "
                    "passed, but the target y is None."
                )
            X, y = validate_data(
                self, X, y, dtype=np.float32, reset=reset, y_numeric=False
            )
            y01 = self._encode_labels(y, reset=reset)
            self._fit_sample_weight = check_sample_weight(sample_weight, len(y01))
        self.batch_size_, self.max_epochs_ = resolve_budget(
            self.batch_size, self.max_epochs, len(y01)
        )
        return X, y01

    @staticmethod
    def _dataset_labels(X, y):
        if y is not None:
            return np.asarray(y)
        labels = getattr(X, "labels", None)
        if labels is None:
            raise ValueError(
                f"y is None and the dataset {type(X).__name__} has no "
                "`labels` attribute; pass y (the labels of its rows)"
            )
        return np.asarray(labels)

    def _encode_labels(self, y, reset, dtype=np.float32):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        if y.dtype.itemsize == 1 and y.dtype.kind in "iub":
            # int8 labels of a table: counted, not sorted (np.unique's copy), and
            # integers are never continuous targets
            classes = np.array(list(byte_value_counts(y)), dtype=y.dtype)
        else:
            check_classification_targets(y)
            classes = np.unique(y)
        if reset:
            if len(classes) != 2:
                kind = (
                    "only one class" if len(classes) == 1 else f"{len(classes)} classes"
                )
                raise ValueError(
                    f"Only binary classification is supported: y must hold exactly two "
                    f"distinct labels, got {kind}: {classes[:10].tolist()}"
                )
            self.classes_ = classes
        elif not np.isin(classes, self.classes_).all():
            unseen = classes[~np.isin(classes, self.classes_)].tolist()
            raise ValueError(
                f"y has labels {unseen} not seen in the first fit, whose "
                f"classes are {self.classes_.tolist()}"
            )
        if y.dtype == dtype == np.int8 and self.classes_.tolist() == [0, 1]:
            return y  # 0/1 already (a table's labels): read, never written
        # Compared into the result: no array of flags as long as y on the way.
        encoded = np.empty(len(y), dtype=dtype)
        np.equal(y, self.classes_[1], out=encoded, casting="unsafe")
        return encoded

    # -- skorch hooks --------------------------------------------------------------
    def initialize_module(self):
        kwargs = self.get_params_for("module")
        module = resolve_module(self.module)
        if (
            isinstance(module, type)
            and "input_dim" not in kwargs
            and _accepts(module, "input_dim")
        ):
            if not hasattr(self, "n_features_in_"):
                raise ValueError(
                    "the input size is inferred from X in fit; call fit, "
                    "or pass module__input_dim to initialize before"
                )
            kwargs["input_dim"] = self.n_features_in_
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # optimizer="auto" / lr="auto": the network's recipe fills in what the
        # user left open; explicit optimizer__* options still win.
        if self.optimizer != "auto" and self.lr != "auto":
            return super().initialize_optimizer()
        recipe = recipe_of(self.module_)
        args, kwargs = self.get_params_for_optimizer(
            "optimizer", self.get_all_learnable_params()
        )
        groups = args[0] if args and isinstance(args[0], list) else []
        for options in [kwargs, *(g for g in groups if isinstance(g, dict))]:
            if options.get("lr") == "auto":
                options["lr"] = recipe.lr
        optimizer = self.optimizer
        if optimizer == "auto":
            optimizer = recipe.optimizer
            kwargs = {**recipe.optimizer_options, **kwargs}
            if _accepts(optimizer, "fused") and "fused" not in kwargs:
                # One kernel per step instead of a loop over the parameters: the
                # same update, ~70 us less per step on a small MLP on the CPU
                # (about a fifth of a small fit). Where torch has no fused kernel
                # (a CPU before torch 2.4), the default implementation.
                try:
                    self.optimizer_ = optimizer(*args, fused=True, **kwargs)
                    return self
                except (RuntimeError, ValueError, TypeError):
                    pass
        self.optimizer_ = optimizer(*args, **kwargs)
        return self

    def initialize_criterion(self):
        if self.criterion is not torch.nn.BCEWithLogitsLoss:
            return super().initialize_criterion()  # the user's own criterion
        kwargs = self.get_params_for("criterion")
        # The weight is resolved on the training rows later (get_split_datasets) and
        # written into this buffer, so schedules can change it in place.
        kwargs.setdefault("pos_weight", torch.ones(1))
        if self.loss == "focal":
            kwargs.setdefault("alpha", self.focal_alpha)
            kwargs.setdefault("gamma", self.focal_gamma)
            self.criterion_ = FocalLoss(**kwargs)
        else:
            self.criterion_ = torch.nn.BCEWithLogitsLoss(**kwargs)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        # skorch's default split, made without its ~50 bytes a row
        rows = None if fit_params else light_valid_split(self.train_split, y)
        dataset = None if rows is None else self.get_dataset(X, y)
        if rows is not None and len(dataset) == len(y):
            dataset_train, dataset_valid = (IndexSubset(dataset, r) for r in rows)
        else:
            dataset_train, dataset_valid = super().get_split_datasets(
                X, y, **fit_params
            )
        # Rows in storage order: the sampler shuffles anyway, and a dataset read from
        # disk (SQLiteDataset) then reads nearby rows together.
        dataset_train, dataset_valid = map(
            sorted_subset, (dataset_train, dataset_valid)
        )
        train_labels = subset_labels(dataset_train, y)
        on_disk = reads_in_blocks(dataset_train)
        if on_disk:
            # The validation rows read once per fit, not once per epoch; the
            # positives, spread over every epoch, read by key once.
            dataset_valid = held_if_small(dataset_valid, self.n_features_in_)
            hold_rare_rows(dataset_train, train_labels)
        # Where each training row is stored: the sampler's blocks and the scaling
        # sample are cut over it.
        stored_at = storage_positions(dataset_train)
        self.sampler_ = self._make_sampler(
            train_labels, on_disk, stored_at, cache_blocks(dataset_train)
        )
        presented = _presented_labels(self.sampler_, train_labels)
        self._class_counts = (class_counts(presented), class_counts(train_labels))
        self.pos_weight_ = resolve_pos_weight(self.pos_weight, presented)
        self.set_weight_in_force(self.pos_weight_)
        if self.scaling is not None and getattr(self, "scaler_", None) is None:
            self.scaler_ = self._fit_scaler(dataset_train, stored_at)
        # The rows the decision threshold is tuned on, after training.
        self._threshold_rows = dataset_train if dataset_valid is None else dataset_valid
        return dataset_train, dataset_valid

    def get_dataset(self, X, y=None):
        if not is_dataset(X) and self.dataset is ArrayDataset:
            kwargs = self.get_params_for("dataset")
            if kwargs.get("device", "auto") == "auto":
                kwargs["device"] = data_device(self.device, np.asarray(X).nbytes)
            if y is not None:
                kwargs["sample_weight"] = getattr(self, "_fit_sample_weight", None)
            return ArrayDataset(X, y, **kwargs)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("collate_fn", collate)
        if self._device_type() == "cuda" and not on_cuda(dataset):
            kwargs.setdefault("pin_memory", True)
        iterator = self.iterator_train if training else self.iterator_valid
        sampler = getattr(self, "sampler_", None) if training else None
        if sampler is not None and not _sampler_fits(sampler, dataset):
            sampler = None
        batch_size = kwargs.pop("batch_size", None) or self._batch_size(training)
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
            batches = self._training_batches(batches)
        if batches is not None:
            return iterator(dataset, batch_sampler=batches, **kwargs)
        if sampler is not None:
            kwargs["sampler"] = sampler
        else:
            kwargs["shuffle"] = shuffle
        return iterator(dataset, batch_size=batch_size, drop_last=drop_last, **kwargs)

    def _batch_size(self, training):
        if self.batch_size != "auto":
            return self.batch_size
        fitted = getattr(self, "batch_size_", None) or INFERENCE_BATCH_SIZE
        return fitted if training else max(fitted, INFERENCE_BATCH_SIZE)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        # The last epoch's callbacks have read its batch records: kept by column
        # from here on (skimb.history; ~360 bytes a batch as dicts).
        close_epoch(self.history)
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        self.history.record("pos_weight", self.weight_in_force())

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X, y, **kwargs)
        close_epoch(self.history)

    def infer(self, x, **fit_params):
        if isinstance(x, torch.Tensor):
            if self.device is not None:  # None: placement is left to the caller
                x = x.to(self.device, non_blocking=True)
            scaler = getattr(self, "scaler_", None)
            if scaler is not None:
                x = scaler.transform(x)
        dtype = _AUTOCAST_DTYPES.get(self.precision)
        # NeuralNet's infer, not NeuralNetBinaryClassifier's: that one refuses the
        # (n, k) logits of an ensemble's members.
        if dtype is None:
            return _member_logits(NeuralNet.infer(self, x, **fit_params))
        with torch.autocast(self._device_type(), dtype=dtype):
            y_infer = _member_logits(NeuralNet.infer(self, x, **fit_params))
        # Half-precision logits go on as float32: the loss and NumPy need it.
        return y_infer.float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if isinstance(y_true, torch.Tensor):
            # device=None (accelerate): the targets go where the logits are
            device = y_pred.device if self.device is None else self.device
            y_true = y_true.to(device, non_blocking=True)
        # Under autocast the logits may be half precision: the loss is float32.
        y_pred = y_pred.float()
        weights = None
        if isinstance(y_true, torch.Tensor) and y_true.ndim == 2:
            # (target, sample weight) pairs
            y_true, weights = y_true[:, 0], y_true[:, 1]
        if y_pred.ndim == 2:  # an ensemble: every member learns every row
            y_true = _per_member(y_true, y_pred)
            weights = None if weights is None else _per_member(weights, y_pred)
        if weights is not None:
            return weighted_loss(self.criterion_, y_pred, y_true, weights)
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def train_step_single(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn):
        scaler = self._grad_scaler()
        if scaler is None:
            return super()._step_optimizer(step_fn)
        step_fn()
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return None

    # -- the positive weight ---------------------------------------------------------
    def set_weight_in_force(self, weight):
        """Write ``weight`` into the criterion's ``pos_weight`` buffer, in place."""
        buffer = getattr(self.criterion_, "pos_weight", None)
        if isinstance(buffer, torch.Tensor):
            buffer.fill_(float(weight))
        elif weight != 1.0 or self.weight_schedule is not None:
            raise ValueError(
                f"criterion {type(self.criterion_).__name__} has no "
                "pos_weight buffer to hold a positive weight; use "
                "pos_weight=None or a BCE-style criterion"
            )

    def weight_in_force(self):
        """The positive weight the criterion uses now (1.0 if it has none)."""
        buffer = getattr(self.criterion_, "pos_weight", None)
        return float(buffer.reshape(-1)[0]) if isinstance(buffer, torch.Tensor) else 1.0

    # -- after training: prior correction and threshold ----------------------------
    def logit_shift(self, pos_weight):
        """What prior correction subtracts from the logits of a model trained with
        ``pos_weight`` in force (0 without ``prior_correction`` or with a criterion
        of the user's own); see :mod:`skimb.prior`."""
        if not self.prior_correction or not isinstance(
            self.criterion_, torch.nn.BCEWithLogitsLoss
        ):
            return 0.0
        presented, true = self._class_counts
        alpha = (
            self.criterion_.alpha if isinstance(self.criterion_, FocalLoss) else None
        )
        return odds_distortion(pos_weight, presented, true, alpha)

    def _finish_fit(self):
        """Fix what ``predict_proba`` and ``predict`` apply, for the weights the
        module holds now (those of ``best_epoch_`` after a selection)."""
        # partial_fit (or warm_start) after bagging trains the bag on, as one
        # ensemble; a fresh fit without bagging forgets it
        self.n_bags_ = getattr(self.module_, "n_bags", 1)
        if self.n_bags_ == 1:
            for stale in ("best_epochs_", "bag_histories_"):
                self.__dict__.pop(stale, None)
        if not hasattr(self, "best_epoch_") or not self._selects_epoch():
            self.best_epoch_ = None
        epoch = self.best_epoch_ or len(self.history)
        self.logit_shift_ = self.logit_shift(self.history[epoch - 1, "pos_weight"])
        rows, self._threshold_rows = self._threshold_rows, None
        if self.threshold != "f1" and not self._keep_threshold_inputs:
            self.threshold_ = float(self.threshold)
            return
        scored = self._scored_rows(rows)
        if self._keep_threshold_inputs:  # a bag's network (skimb.bagging)
            self._threshold_inputs = scored
        if self.threshold == "f1":
            # scored inputs kept for the bag are not sorted in place
            overwrite = not self._keep_threshold_inputs
            self.threshold_ = tuned_threshold(*scored, overwrite_proba=overwrite)
        else:
            self.threshold_ = float(self.threshold)

    def _scored_rows(self, rows):
        """``(0/1 flags, corrected probabilities, row weights or None)`` of
        ``rows``: the probabilities in float64, the weights as the batches hold
        them (float32), the flags a byte a row: over a large validation split."""
        scored = ScoredRows(len(rows))
        with self._device_context():
            batches = self.get_iterator(rows, training=False)
            for batch in progress(batches, self, len(rows), "threshold"):
                X_batch, y_batch = unpack_data(batch)
                scored.add(self.evaluate_batch((X_batch, y_batch)).float(), y_batch)
        return scored.scored(self.logit_shift_)

    # -- prediction ------------------------------------------------------------------
    def predict_proba(self, X):
        """Probabilities of shape ``(n_samples, 2)``, columns in ``classes_`` order.

        ``X`` may be an array, a DataFrame or a torch Dataset (streamed by batch).
        With ``prior_correction`` the logits are shifted by ``-logit_shift_``.
        """
        check_is_fitted(self)
        if not is_dataset(X):
            X = validate_data(self, X, dtype=np.float32, reset=False)
        nonlinearity = self._get_predict_nonlinearity()
        # skorch's loop, into one array of len(X) rows (see BatchRows)
        proba = BatchRows(len(X))
        with cooperative_threads(), self._device_context():
            for y_infer in self.forward_iter(X, training=False):
                y_infer = y_infer[0] if isinstance(y_infer, tuple) else y_infer
                proba.add(to_numpy(nonlinearity(y_infer)))
        proba = proba.array()
        return np.empty((0, 2), np.float32) if proba is None else proba

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity != "auto":
            return super()._get_predict_nonlinearity()
        shift = getattr(self, "logit_shift_", 0.0)

        def two_columns(logits):
            proba = member_proba(logits, shift)
            return torch.stack((1 - proba, proba), dim=1)

        return two_columns

    def predict(self, X):
        """Labels from ``classes_``: positive where its probability > ``threshold_``."""
        positive = self.predict_proba(X)[:, 1] > self.threshold_
        return self.classes_[positive.astype(int)]

    def forward_iter(self, X, training=False, device="cpu"):
        with self._device_context():
            batches = super().forward_iter(X, training=training, device=device)
            if is_dataset(X):
                batches = progress(batches, self, len(X), "predicting")
            yield from batches

    def initialize(self):
        with self._device_context():
            self.device_ = self.device
            return super().initialize()

    # -- device, randomness, pickling ------------------------------------------------
    @contextmanager
    def _device_context(self):
        """Within it, ``self.device`` is the concrete device "auto" resolves to."""
        requested = self.__dict__.get("device")
        if requested != "auto":
            yield
            return
        self.__dict__["device"] = resolve_device(requested)
        try:
            yield
        finally:
            self.__dict__["device"] = requested

    def _device_type(self):
        """ "cpu" or "cuda"; with device=None (accelerate), where batches go."""
        device = "auto" if self.device is None else self.device
        return torch.device(resolve_device(device)).type

    @contextmanager
    def _fit_context(self, epochs_done):
        # cooperative_threads: a fit in a Dask worker uses its task's share of the
        # cores (skimb.threads); predictions inside the fit reuse the setting.
        with cooperative_threads(), self._device_context():
            if self.random_state is None:
                seeded = nullcontext()
            else:
                device = torch.device(self.device or self._device_type())
                cuda = [device.index or 0] if device.type == "cuda" else []
                seeded = torch.random.fork_rng(devices=cuda)
            with seeded:
                if self.random_state is not None:
                    # A partial_fit that continues a history draws fresh batches.
                    seed = np.random.SeedSequence([self.random_state, epochs_done])
                    torch.manual_seed(int(seed.generate_state(1)[0]))
                yield

    def _grad_scaler(self):
        if self.precision != "fp16" or self._device_type() != "cuda":
            return None
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler("cuda")
        return self.grad_scaler_

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("device") == "auto":
            # Record where the tensors live so that unpickling can map them.
            state["device"] = getattr(self, "device_", "cpu")
            state["device_requested_auto_"] = True
        return state

    def __setstate__(self, state):
        auto = state.pop("device_requested_auto_", False)
        if auto:
            state["device"] = resolve_device("auto")
        super().__setstate__(state)
        if auto:
            self.__dict__["device"] = "auto"
            self.device_ = resolve_device("auto")

    # -- strategies ------------------------------------------------------------------
    def _fit_scaler(self, dataset_train, stored_at):
        """A FeatureScaler fitted on the training rows (a sample of whole blocks of
        them, past ``SCALING_SAMPLE_ROWS``; ``stored_at``: where each is stored),
        read batch by batch."""
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))
        rows = scaling_sample(stored_at, generator)
        if rows is not None:
            dataset_train = IndexSubset(dataset_train, rows)
        batches = (
            unpack_data(batch)[0]
            for batch in progress(
                self.get_iterator(dataset_train, training=False),
                self,
                len(dataset_train),
                "scaling statistics",
            )
        )
        return FeatureScaler(self.scaling).fit(
            batches, n_rows=len(dataset_train), generator=generator
        )

    def _make_sampler(
        self, train_labels, reads_in_blocks=False, stored_at=None, cached_blocks=0
    ):
        """The training sampler (``sampler_``); ``stored_at``, where each training
        row is stored, for samplers that cut blocks; ``cached_blocks``, how many
        blocks the dataset's block cache holds."""
        kwargs = self.get_params_for("sampler")
        sampler = self.sampler
        if self.get_params_for("iterator_train").get("shuffle") is False:
            reads_in_blocks = False  # the user asked for the stored order
        if sampler is None and not reads_in_blocks:
            if kwargs:
                raise ValueError(
                    f"sampler options {sorted(kwargs)} were given, but sampler=None"
                )
            return None
        if sampler is None:
            # Data read from disk: the shuffle that keeps reads near-sequential.
            sampler = "block_shuffle"
        if not isinstance(sampler, (str, type)):
            return sampler  # an instance: used as given
        cls = SAMPLERS[sampler] if isinstance(sampler, str) else sampler
        if reads_in_blocks and cls is BatchBalancedSampler:
            kwargs.setdefault("block_size", BLOCK_ROWS)  # its block-aware variant
        block_size = kwargs.get("block_size", BLOCK_ROWS)
        if (
            reads_in_blocks
            and cached_blocks
            and block_size  # None: batch_balanced's negatives in a plain shuffle
            and _accepts(cls, "reuse_blocks")
        ):
            # Each epoch opens with the blocks the last one left in the cache (one
            # window fewer: a block read by key is not cached, and a miss then
            # evicts a spare block rather than one the epoch is about to visit).
            in_cache = cached_blocks * BLOCK_ROWS // block_size  # sampler's blocks
            window = kwargs.get("window", DEFAULT_WINDOW)
            kwargs.setdefault("reuse_blocks", max(in_cache - window, 0))
        if stored_at is not None and _accepts(cls, "storage_positions"):
            # Blocks of the stored rows, not of the split's: on disk each is then
            # read once per epoch (and arrays are cut the same way).
            kwargs.setdefault("storage_positions", stored_at)
        if issubclass(cls, BatchSampler) and _accepts(cls, "batch_size"):
            batch_size = self.get_params_for("iterator_train").get("batch_size")
            kwargs.setdefault("batch_size", batch_size or self._batch_size(True))
        if _accepts(cls, "seed"):
            # Drawn from torch's RNG, which random_state seeds.
            kwargs.setdefault("seed", int(torch.randint(0, 2**62, ()).item()))
        return cls(train_labels, **self._sampler_sharding(cls, kwargs))

    def _training_batches(self, batches):
        """The batch sampler of the training iterator (the accelerated subclass
        adapts it)."""
        return batches

    def _sampler_sharding(self, sampler_class, options):
        """The sampler's options for distributed training: as given here (the
        samplers read ``torch.distributed``); the accelerated subclass overrides."""
        return options

    def _make_schedule(self):
        schedule = self.weight_schedule
        if schedule is None:
            return None
        kwargs = self.get_params_for("weight_schedule")
        if isinstance(schedule, str):
            if schedule not in SCHEDULES:
                return None  # reported by check_params in fit
            return SCHEDULES[schedule](**kwargs)
        if isinstance(schedule, type):
            return schedule(**kwargs)
        return schedule.set_params(**kwargs) if kwargs else schedule


class QuietPrintLog(PrintLog):
    """skorch's epoch table, not even formatted with ``verbose=0`` (skorch formats
    it every epoch and then drops it: ~1 ms an epoch, 6% of a small fit)."""

    def on_epoch_end(self, net, **kwargs):
        if net.verbose:
            super().on_epoch_end(net, **kwargs)


def _n_rows(X):
    """Rows of the training data, without reading them."""
    if is_dataset(X):
        return len(X)
    return _num_samples(X)


def _member_logits(y_infer):
    """The module's logits as (n,), or (n, k) for the k members of an ensemble."""
    if isinstance(y_infer, tuple):
        y_infer = y_infer[0]
    if y_infer.ndim == 2 and y_infer.shape[1] == 1:
        return y_infer.reshape(-1)
    if y_infer.ndim not in (1, 2):
        raise ValueError(
            "the module must return logits of shape (n,), (n, 1) or (n, k) for k "
            f"ensemble members, got shape {tuple(y_infer.shape)}"
        )
    return y_infer


def _per_member(values, member_logits):
    """Row values (n,) repeated for each ensemble member, as (n, k)."""
    return values.reshape(-1, 1).expand_as(member_logits)


def _accepts(cls, name):
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _presented_labels(sampler, train_labels):
    """Labels with the class counts one epoch of ``sampler`` shows the loss."""
    counts = getattr(sampler, "epoch_class_counts", None)
    if counts is None:
        return train_labels
    n_neg, n_pos = counts()
    # int8: a byte a row, as the training labels of a dataset fit
    return np.repeat(np.array([0, 1], np.int8), [round(n_neg), round(n_pos)])


def _sampler_fits(sampler, dataset):
    n_rows = getattr(sampler, "n_rows", None)
    return n_rows is None or n_rows == len(dataset)
