"""ImbalancedNetClassifier: skorch's binary classifier, set up for rare positives.

The class is configuration and wiring: each skorch hook it overrides delegates to
the fit's mechanics in :mod:`skimb.training` (see ``docs/`` for how they work).
"""

from contextlib import contextmanager
from functools import partial

import torch
from skorch import NeuralNet, NeuralNetBinaryClassifier
from skorch.utils import is_dataset

from ._params import check_params
from .bagging import fit_bagged, n_bags
from .batch_loop import LeanBatchLoop
from .budget import resolve_budget
from .checkpoints import epochs_left, write_stopped
from .data.batches import ArrayDataset
from .history import close_epoch
from .selection import PatienceExhausted
from .training import construction, decision, step
from .training.inputs import check_classes, n_rows, training_data
from .training.loading import array_dataset, batch_iterator
from .training.manners import BinaryEstimatorManners
from .training.plan import FitPlan, split_datasets
from .training.prediction import ThresholdedPrediction
from .training.runtime import AutoDevicePickling, concrete_device, fit_runtime


class ImbalancedNetClassifier(
    BinaryEstimatorManners,
    ThresholdedPrediction,
    AutoDevicePickling,
    LeanBatchLoop,
    step.MixedPrecisionSteps,
    NeuralNetBinaryClassifier,
):
    """A scikit-learn classifier on a PyTorch module, for imbalanced binary data.

    A :class:`skorch.NeuralNetBinaryClassifier` whose loss, positive weight, batch
    sampling and weight schedule are parameters, so ``GridSearchCV`` can search
    them; every skorch parameter keeps working. The positive class is
    ``classes_[1]``, as in scikit-learn's scorers. How each default was chosen:
    ``docs/defaults.md``; the options in depth: ``docs/options.md``.

    Parameters
    ----------
    module : None, "mlp", "realmlp", "tabm", nn.Module class or instance, \
default=None
        The network (:mod:`skimb.modules`; ``None``: ``MLP``, or ``SmallRealMLP``
        for a table with categorical columns), returning logits
        ``(n,)``, or ``(n, k)`` for a module declaring ``ensemble_size = k``
        (:mod:`skimb.modules.ensembles`). A class taking
        ``input_dim`` gets it from ``X``; options via ``module__*``.
    loss : {"bce", "focal"}, default="bce"
        ``BCEWithLogitsLoss`` or :class:`skimb.losses.FocalLoss`.
    pos_weight : None, float > 0, "balanced", "sqrt" or callable, default="balanced"
        Positive class weight: n_neg / n_pos, its square root, or ``f(y)``, on the
        class counts an epoch presents to the loss; a float as given.
    focal_alpha : None or float in [0, 1], default=0.25
        Focal loss alpha (``loss="focal"``).
    focal_gamma : float >= 0, default=2.0
        Focal loss gamma (``loss="focal"``).
    sampler : None, str, or torch Sampler class or instance, default=None
        ``"batch_balanced"``, ``"weighted"``, ``"undersample"``, ``"oversample"``,
        ``"block_shuffle"`` (:mod:`skimb.samplers`; options via ``sampler__*``);
        ``None``: a shuffle, block-shuffled for data read from disk.
    weight_schedule : None, "linear", "plateau", "deferred" or WeightSchedule, \
default=None
        How the positive weight moves over epochs (:mod:`skimb.schedules`).
    device : str, default="auto"
        ``"auto"``: CUDA when available, else the CPU.
    random_state : None or int, default=None
        An int makes ``fit`` reproducible; torch's global RNG is left as it was.
    precision : None, "bf16" or "fp16", default=None
        Mixed precision for the forward passes; the loss is float32.
    batch_size, max_epochs : int or "auto", default="auto"
        ``"auto"``: from the number of rows (:mod:`skimb.budget`).
    early_stopping : "auto" or bool, default="auto"
        Restore the best validation epoch (:class:`skimb.selection.BestEpoch`,
        options via ``early_stopping__*``); ``"auto"``: with a validation split.
    bagging : "auto", None, bool or int, default="auto"
        Cross-fit bagging of k networks (:mod:`skimb.bagging`); ``"auto"``: 5 on
        up to 20,000 rows with the default ``train_split``. The built-in MLP's
        bag trains as one packed module in one fit (:mod:`skimb.packing`);
        ``bagging__packed=False``: one network after another.
    threshold : float in (0, 1) or "f1", default="f1"
        ``predict``'s threshold; ``"f1"`` tuned on the validation split.
    prior_correction : bool, default=True
        Undo the prior shift of the weight and sampler (:mod:`skimb.prior`).
    scaling : None, "standard" or "robust", default="standard"
        Feature scaling on training-row statistics (:mod:`skimb.scaling`).
    checkpoint : None or str or Path, default=None
        A folder: ``fit`` writes its whole state there atomically after every
        epoch, and a later ``fit`` with the same data and parameters resumes from
        the last completed epoch, ending (CPU, ``random_state`` set) with the model
        an uninterrupted fit gives; a checkpoint of other data or parameters is
        refused (:mod:`skimb.checkpoints`). A bag keeps one per network.
        ``partial_fit`` neither reads nor writes it.
    categorical : "auto", list of column names or positions, or None, \
default="auto"
        The categorical columns of a DataFrame (``"auto"``: the non-numeric
        dtypes), encoded on the training rows (:class:`skimb.tables.TableEncoder`,
        options via ``table__*``); missing numbers are imputed with an indicator.
    progress : "auto" or bool, default="auto"
        tqdm bars; ``"auto"``: with ``verbose``, after 2 seconds of work.
    optimizer, lr : "auto", or a torch optimizer class and a float, default="auto"
        ``"auto"``: the network's :class:`skimb.modules.Recipe`.
    dataset : Dataset class, default=skimb.data.ArrayDataset
        Arrays held as tensors (on the GPU when they fit, ``dataset__device``).
    **kwargs
        Any other skorch parameter or prefixed option.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; ``classes_[1]`` is the positive class.
    n_features_in_, feature_names_in_
        The width of ``X`` and, for a DataFrame, its column names.
    table_encoder_ : TableEncoder
        After a fit on a table (a DataFrame, or an array with missing values):
        how its columns reach the network.
    pos_weight_, threshold_, logit_shift_ : float
        The resolved positive weight, ``predict``'s threshold, and what
        ``predict_proba`` subtracts from the logits.
    batch_size_, max_epochs_ : int
        The training budget of the last fit.
    best_epoch_ : int or None
        1-based epoch whose weights the module holds (``None``: no selection).
    n_bags_, best_epochs_, bag_histories_, bag_packed_
        After bagging: the networks' number, selected epochs and histories
        (for a packed bag, each member's rows of ``history[:, "members"]``), and
        whether the bag was packed.
    fit_interrupted_ : bool
        Whether the last fit was ended by a ``KeyboardInterrupt`` (Ctrl-C): the
        model is then the one at the best epoch so far (and a bag the networks
        trained until then).
    scaler_, sampler_, device_
        The fitted scaling (inside ``module_`` after bagging), the sampler, and
        the device the module lives on.
    history_ : skorch History
        Per epoch the losses, ``valid_roc_auc``, ``valid_ap``, ``valid_f1``,
        ``valid_acc``, ``valid_log_loss`` and ``pos_weight`` (the weight in force).

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
    """

    #: Whether bagging="auto" may bag (the accelerated subclass trains one model).
    _bags_by_default = True

    prefixes_ = NeuralNetBinaryClassifier.prefixes_ + [
        "sampler",
        "weight_schedule",
        "early_stopping",
        "table",
        "bagging",
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
        categorical="auto",
        checkpoint=None,
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
        self.categorical = categorical
        self.checkpoint = checkpoint
        self.progress = progress

    @property
    def _default_callbacks(self):
        return construction.scoring_callbacks(self._packing())

    def get_default_callbacks(self):
        selects = self._selects_epoch()
        return [
            *super().get_default_callbacks(),
            *construction.skimb_callbacks(self, selects, self._packing()),
        ]

    def _packing(self):
        """The members of the packed bag this fit trains (skimb.packing), or None."""
        plan = self.__dict__.get("_fit_plan")
        return None if plan is None else plan.packing

    def _selects_epoch(self):
        if self.early_stopping == "auto":
            return self.train_split is not None
        return bool(self.early_stopping)

    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Initialize the module (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), DataFrame, or torch Dataset
            Training data; a Dataset yields ``(x, label)`` pairs.
        y : array-like of shape (n_samples,) or None
            Two distinct labels; ``None`` when ``X`` has ``labels``.
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative row weights on top of ``pos_weight`` (normalised to mean
            1), also weighting the validation scores and the threshold search.
        **fit_params
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self
        """
        check_params(self)
        # a module instance is trained as given, not copied k times
        auto = self._bags_by_default and not self.warm_start
        auto = auto and not isinstance(self.module, torch.nn.Module)
        bags = n_bags(self.bagging, self.train_split, n_rows(X), auto=auto)
        if bags > 1:
            return fit_bagged(self, X, y, sample_weight, bags, **fit_params)
        self._fit_network(X, y, sample_weight, fit_params)
        return self

    def fit_scored(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        encoded_by=None,
        packing=None,
        **fit_params,
    ):
        """Fit one network as :meth:`fit` does without bagging, and return the
        scores of the rows its threshold is tuned on (the validation split):
        ``(0/1 flags, prior-corrected probabilities, row weights or None)``.
        :mod:`skimb.bagging` builds a bag from these out-of-fold scores;
        ``encoded_by``: ``X`` is the matrix this fitted
        :class:`~skimb.tables.TableEncoder` made of a table (the bag's);
        ``packing``: the module is a packed bag's, whose members train on these
        rows (:class:`skimb.packing.members.MemberRows`; no scores returned)."""
        check_params(self)
        return self._fit_network(
            X,
            y,
            sample_weight,
            fit_params,
            encoded_by,
            keep_scores=packing is None,
            packing=packing,
        )

    def _fit_network(self, X, y, sample_weight, fit_params, encoded_by=None, **plan):
        """A fit from a fresh module (or, ``warm_start``, the fitted one);
        ``plan``: options of its :class:`~skimb.training.plan.FitPlan`."""
        fresh = not self.warm_start or not self.initialized_
        planned = self._planned(
            X, y, sample_weight, True, encoded_by, resumable=fresh, **plan
        )
        with self._fit_context(epochs_done=0), planned as (X, y, fit_plan):
            if fresh:
                self.initialize()
                vars(self).pop("scaler_", None)  # fitted anew with the module
            # NeuralNet's partial_fit: the data are prepared already
            super().partial_fit(X, y, _routing_method="fit", **fit_params)
            decision.finish_fit(self, fit_plan, self._selects_epoch())
        return fit_plan.scores

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing the module.

        Parameters are as in :meth:`fit`; ``classes`` is checked against
        ``classes_``. The feature scaling of the first call is kept, and a bag is
        trained on as one ensemble.

        Returns
        -------
        self
        """
        check_params(self)
        first = not self.initialized_
        with self._fit_context(epochs_done=0 if first else len(self.history)):
            with self._planned(X, y, sample_weight, reset=first) as (X, y, plan):
                check_classes(classes, self.classes_)
                if first:
                    vars(self).pop("scaler_", None)
                super().partial_fit(X, y, **fit_params)
                decision.finish_fit(self, plan, self._selects_epoch())
        return self

    @contextmanager
    def _planned(self, X, y, sample_weight, reset, encoded_by=None, **plan):
        """The training data checked, the budget resolved, and the fit's plan
        (``plan``: its options), which its hooks read and which is dropped when
        the fit ends."""
        X, y, weights = training_data(self, X, y, sample_weight, reset, encoded_by)
        budget = resolve_budget(self.batch_size, self.max_epochs, len(y))
        self.batch_size_, self.max_epochs_ = budget
        packing = plan.get("packing")
        if packing is not None:
            self.batch_size_ = packing.batch_size(self.batch_size, self.batch_size_)
        self._fit_plan = fit_plan = FitPlan(weights, **plan)
        try:
            yield X, y, fit_plan
        finally:
            self.__dict__.pop("_fit_plan", None)
            if packing is not None and hasattr(self, "module_"):
                packing.train_only(None, self.module_)  # whatever ended the fit

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        epochs = self.max_epochs_ if epochs is None else epochs
        epochs = epochs_left(self, epochs)  # what a checkpoint restored is trained
        self.fit_interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as stop:
            # skorch ends the training of this network on either; Ctrl-C (not the
            # selection's patience) ends a bag too (skimb.bagging)
            self.fit_interrupted_ = not isinstance(stop, PatienceExhausted)
            if not self.fit_interrupted_:
                write_stopped(self)  # a resumed fit trains no further
            raise

    def initialize(self):
        with self._device_context():
            self.device_ = self.device
            return super().initialize()

    def initialize_module(self):
        module, kwargs = construction.module_arguments(self)
        module = self.initialized_instance(module, kwargs)
        self.module_ = construction.table_inputs(self, module)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        optimizer = construction.recipe_optimizer(self)
        if optimizer is None:
            return super().initialize_optimizer()
        self.optimizer_ = optimizer
        return self

    def initialize_criterion(self):
        packing = self._packing()
        members = 1 if packing is None else packing.n_members
        criterion = construction.loss_criterion(self, members)
        if criterion is None:
            return super().initialize_criterion()  # the user's own criterion
        self.criterion_ = criterion
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        train, valid = split_datasets(
            self, X, y, fit_params, super().get_split_datasets
        )
        plan = self.__dict__.get("_fit_plan") or FitPlan()
        return plan.prepare(self, train, valid, y, self._sampler_sharding)

    def get_dataset(self, X, y=None):
        if is_dataset(X) or self.dataset is not ArrayDataset:
            return super().get_dataset(X, y)
        plan = self.__dict__.get("_fit_plan")
        if plan is not None and plan.packing is not None and y is not None:
            # the rows' folds travel with their targets (skimb.packing)
            targets = plan.packing.targets(y, plan.sample_weight)
            return array_dataset(self, X, targets, None)
        return array_dataset(self, X, y, None if plan is None else plan.sample_weight)

    def get_iterator(self, dataset, training=False):
        return batch_iterator(self, dataset, training, self._training_batches)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        # The last epoch's callbacks have read its batch records: kept by column
        # from here on (skimb.history).
        close_epoch(self.history)
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        self.history.record("pos_weight", self.weight_in_force())

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X, y, **kwargs)
        close_epoch(self.history)

    def infer(self, x, **fit_params):
        x = step.scaled_input(self, x)
        # NeuralNet's infer, not NeuralNetBinaryClassifier's: that one refuses the
        # (n, k) logits of an ensemble's members.
        return step.forward_logits(
            self, partial(NeuralNet.infer, self, x, **fit_params)
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        unweighted = partial(super().get_loss, X=X, training=training)
        return step.batch_loss(
            self, y_pred, y_true, unweighted, self._packing(), training
        )

    def set_weight_in_force(self, weight):
        """Write ``weight`` into the criterion's ``pos_weight`` buffer, in place."""
        scheduled = self.weight_schedule is not None
        construction.write_pos_weight(self.criterion_, weight, scheduled)

    def weight_in_force(self):
        """The positive weight the criterion uses now (1.0 if it has none)."""
        return construction.pos_weight_of(self.criterion_)

    def logit_shift(self, pos_weight):
        """What prior correction subtracts from the logits of this fit's model
        trained with ``pos_weight`` in force (:mod:`skimb.prior`); during a fit."""
        counts = self._fit_plan.class_counts
        return decision.logit_shift(
            self.criterion_, self.prior_correction, counts, pos_weight
        )

    def _device_context(self):
        return concrete_device(self)

    def _fit_context(self, epochs_done):
        return fit_runtime(self, epochs_done)

    def _training_batches(self, batches):
        return batches  # accelerate deals them out

    def _sampler_sharding(self, sampler_class, options):
        return options  # the samplers read torch.distributed; accelerate overrides
