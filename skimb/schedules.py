"""Weight schedules: skorch callbacks that move the positive weight between epochs.

A schedule sets the weight in force at the start of every epoch. It writes the
criterion's ``pos_weight`` buffer in place, so the optimizer and its state are left
alone (``set_params(criterion__...)`` would re-create both). The weight in force is
logged in ``net.history[:, "pos_weight"]``.

Epochs are the net's own: epoch ``e`` is row ``e`` of ``net.history``, counted from 1.
A fresh ``fit`` restarts the schedule; ``partial_fit`` and ``fit`` with
``warm_start=True`` continue the history, and with it the schedule.

To write your own, subclass :class:`WeightSchedule` and implement
``weight_at(epoch, base_weight, net)``.
"""

import numpy as np
from skorch.callbacks import Callback

__all__ = [
    "WeightSchedule",
    "LinearDecay",
    "PlateauIncrease",
    "DeferredReweighting",
    "SCHEDULES",
]


class WeightSchedule(Callback):
    """Base class: set the positive weight at the start of every epoch.

    Subclasses implement ``weight_at(epoch, base_weight, net)``, returning the weight
    for ``epoch`` (counted from 1) given the resolved ``base_weight``
    (``net.pos_weight_``).

    Examples
    --------
    A schedule that doubles the weight every epoch, up to 100:

    >>> from skimb.schedules import WeightSchedule
    >>> class Doubling(WeightSchedule):
    ...     def weight_at(self, epoch, base_weight, net):
    ...         return min(base_weight * 2 ** (epoch - 1), 100.0)
    >>> # ImbalancedNetClassifier(weight_schedule=Doubling())
    """

    def weight_at(self, epoch, base_weight, net):
        raise NotImplementedError

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # the net has already opened this epoch's row
        net.set_weight_in_force(self.weight_at(epoch, net.pos_weight_, net))


class LinearDecay(WeightSchedule):
    """From the resolved weight at epoch 1 straight to 1.0 at ``max_epochs``.

    The weight is ``w + (1 - w) * (epoch - 1) / (max_epochs - 1)`` and 1.0 after
    ``max_epochs``: a weight above 1 decays to 1, one below 1 rises to 1, and it never
    crosses 1.

    Parameters
    ----------
    max_epochs : int or None, default=None
        Epoch at which the weight reaches 1.0; ``None`` = the net's ``max_epochs``.

    Examples
    --------
    >>> from skimb.schedules import LinearDecay
    >>> LinearDecay().simulate(5, base_weight=9.0).tolist()
    [9.0, 7.0, 5.0, 3.0, 1.0]
    """

    def __init__(self, max_epochs=None):
        self.max_epochs = max_epochs

    def weight_at(self, epoch, base_weight, net):
        last = self.max_epochs if self.max_epochs is not None else _max_epochs(net)
        return _linear(epoch, base_weight, last)

    def simulate(self, n_epochs, base_weight):
        """Weights of epochs ``1..n_epochs`` for a net with ``max_epochs=n_epochs``."""
        last = self.max_epochs if self.max_epochs is not None else n_epochs
        return np.array([_linear(e, base_weight, last) for e in range(1, n_epochs + 1)])


class DeferredReweighting(WeightSchedule):
    """Weight 1.0 before epoch ``start``, the resolved weight from ``start`` on.

    The deferred re-weighting (DRW) of Cao et al. (2019): learn features on the
    natural distribution first, then re-weight.

    Parameters
    ----------
    start : int or None, default=None
        First re-weighted epoch (from 1); ``None`` = ``round(2/3 * max_epochs) + 1``.

    References
    ----------
    Cao, Wei, Gaidon, Arechiga, Ma. "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS 2019.

    Examples
    --------
    >>> from skimb.schedules import DeferredReweighting
    >>> DeferredReweighting().simulate(6, base_weight=4.0).tolist()
    [1.0, 1.0, 1.0, 1.0, 4.0, 4.0]
    """

    def __init__(self, start=None):
        self.start = start

    def weight_at(self, epoch, base_weight, net):
        return _deferred(epoch, base_weight, self._start(_max_epochs(net)))

    def simulate(self, n_epochs, base_weight):
        """Weights of epochs ``1..n_epochs`` for a net with ``max_epochs=n_epochs``."""
        start = self._start(n_epochs)
        return np.array(
            [_deferred(e, base_weight, start) for e in range(1, n_epochs + 1)]
        )

    def _start(self, max_epochs):
        return self.start if self.start is not None else round(2 * max_epochs / 3) + 1


class PlateauIncrease(WeightSchedule):
    """Grow the weight by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    Like ``ReduceLROnPlateau`` turned around: after ``patience`` epochs without an
    improvement of ``monitor``, the weight is multiplied by ``factor`` (capped at
    ``max_weight``) and the count starts again. A monitor ending in ``"_loss"`` improves
    downwards, any other upwards.

    Parameters
    ----------
    monitor : str, default="valid_ap"
        History key to watch; it must be logged every epoch.
    factor : float > 1, default=1.5
        Multiplier applied on a plateau.
    patience : int >= 1, default=3
        Epochs without improvement before the weight grows.
    max_weight : float or None, default=None
        Cap on the weight; ``None`` = 10 times the resolved weight.

    Attributes
    ----------
    weight_ : float
        Weight in force.
    best_ : float
        Best monitored value so far.
    wait_ : int
        Epochs since the last improvement or increase.

    Examples
    --------
    >>> from skimb.schedules import PlateauIncrease
    >>> PlateauIncrease(patience=2).simulate([0.5, 0.6, 0.6, 0.6, 0.6], 2.0).tolist()
    [2.0, 2.0, 2.0, 2.0, 3.0]
    """

    def __init__(self, monitor="valid_ap", factor=1.5, patience=3, max_weight=None):
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.max_weight = max_weight

    def initialize(self):
        self.weight_ = None
        self.best_ = None
        self.wait_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        if self.factor <= 1:
            raise ValueError(f"factor must be > 1, got {self.factor!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {self.patience!r}")
        if self.monitor.startswith("valid_") and net.train_split is None:
            raise ValueError(
                f"weight_schedule monitors {self.monitor!r}, but train_split=None "
                "means no validation scores are logged; monitor a training score "
                "or keep the validation split"
            )

    def weight_at(self, epoch, base_weight, net):
        if self.weight_ is None:
            self.weight_ = base_weight
        if epoch > 1:
            last_row = net.history[-2]
            if self.monitor not in last_row:
                raise ValueError(
                    f"weight_schedule monitor={self.monitor!r} is not in the history; "
                    f"logged keys are {sorted(k for k in last_row if k != 'batches')}"
                )
            self._observe(last_row[self.monitor], base_weight)
        return self.weight_

    def simulate(self, scores, base_weight):
        """Weights in force for epochs ``1..len(scores)``, given each epoch's score."""
        self.initialize()
        self.weight_ = base_weight
        weights = [base_weight]
        for score in scores[:-1]:
            self._observe(score, base_weight)
            weights.append(self.weight_)
        return np.array(weights)

    def _observe(self, score, base_weight):
        lower_is_better = self.monitor.endswith("_loss")
        improved = self.best_ is None or (
            score < self.best_ if lower_is_better else score > self.best_
        )
        if improved:
            self.best_, self.wait_ = score, 0
            return
        self.wait_ += 1
        if self.wait_ >= self.patience:
            cap = self.max_weight if self.max_weight is not None else 10 * base_weight
            self.weight_ = min(self.weight_ * self.factor, cap)
            self.wait_ = 0


SCHEDULES = {
    "linear": LinearDecay,
    "plateau": PlateauIncrease,
    "deferred": DeferredReweighting,
}


def _linear(epoch, base_weight, last_epoch):
    if last_epoch <= 1:
        return base_weight if epoch <= 1 else 1.0
    progress = min(1.0, (epoch - 1) / (last_epoch - 1))
    return base_weight + (1.0 - base_weight) * progress


def _deferred(epoch, base_weight, start):
    return 1.0 if epoch < start else base_weight


def _max_epochs(net):
    """The net's epoch budget, ``max_epochs="auto"`` resolved by ``fit``."""
    return getattr(net, "max_epochs_", net.max_epochs)
