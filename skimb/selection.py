"""Best-epoch selection: keep the weights of the epoch that validated best.

A network trained for a fixed number of epochs ends wherever it happens to be; the
epoch that did best on the validation split is usually better, and with patience the
fit stops once it is clear that no better epoch is coming.

The default monitor was chosen on ``benchmarks/bench_quality.py``: validation
average precision, smoothed over epochs (``smoothing=0.5``) because validation sets
of small imbalanced data hold a dozen positives. AP only ranks: a small validation
split is often ranked perfectly by a barely trained first epoch, whose probabilities
are squeezed together. So epochs within ``min_delta`` of the best AP tie, and the
tie goes to the lowest validation loss (a better trained, better calibrated epoch).
Selecting on the validation log loss (``monitor="valid_log_loss"``) stopped far too
early: the log loss turns up as soon as the network grows confident, while its
ranking keeps improving for many epochs (mean AP 0.602 against 0.652 on the
benchmark's development sets; see the README).
"""

import copy
import math

import torch
from skorch.callbacks import Callback


class PatienceExhausted(KeyboardInterrupt):
    """Raised by :class:`BestEpoch` to end training (skorch ends a fit on a
    ``KeyboardInterrupt``); told apart from the user's Ctrl-C, which ends a whole
    bag."""


class BestEpoch(Callback):
    """Restore the weights of the epoch with the best ``monitor`` when training ends.

    Like skorch's ``EarlyStopping(load_best=True)``, with the score optionally
    smoothed over epochs, NaN scores (a validation split with one class) counted as
    no improvement, and the selected epoch reported to the net as ``best_epoch_``.

    Parameters
    ----------
    monitor : str, default="valid_ap"
        History key to select on.
    lower_is_better : bool or None, default=None
        ``None``: True for a key that ends in ``loss``, else False.
    patience : int, None or "auto", default="auto"
        Stop after this many epochs without improvement; ``None`` trains every epoch
        and selects the best afterwards. ``"auto"`` is ``max(10, max_epochs // 5)``,
        with the net's resolved ``max_epochs_``.
    smoothing : float in [0, 1), default=0.5
        Select on the exponential moving average
        ``s_t = smoothing * s_{t-1} + (1 - smoothing) * score_t`` (recorded in the
        history as ``<monitor>_smoothed``); 0 uses the raw score.
    min_delta : float >= 0, default=0.005
        An improvement of the selected epoch's score smaller than this does not
        count; an epoch scoring within ``min_delta`` of the best score seen ties
        with it. 0.005 was chosen on development folds of the quality benchmark
        (``benchmarks/results/dev_tie_break.md``: against exact ties only, 0.002
        and 0.01, it had the best mean AP rank at the same mean AP and F1, and a
        lower log loss).
    tie_monitor : str or None, default="valid_loss"
        Breaks ties of the (smoothed) score: of epochs that tie for the best
        score, the one with the lowest ``tie_monitor`` wins. A small validation split
        often ranks perfectly (AP 1.0) from the first epoch on; without this, that
        barely trained first epoch would be kept, with probabilities squeezed
        together that no threshold tuned on them carries to new rows. ``None``:
        the first epoch with the best score.

    Attributes
    ----------
    best_epoch_ : int or None
        1-based epoch of the best score, or None before one was seen.
    best_score_ : float
        Its (smoothed) score.
    """

    def __init__(
        self,
        monitor="valid_ap",
        lower_is_better=None,
        patience="auto",
        smoothing=0.5,
        min_delta=0.005,
        tie_monitor="valid_loss",
    ):
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.patience = patience
        self.smoothing = smoothing
        self.min_delta = min_delta
        self.tie_monitor = tie_monitor

    def on_train_begin(self, net, **kwargs):
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        self.best_epoch_ = None
        self.best_score_ = math.nan
        self.best_tie_score_ = math.nan
        self.leader_ = math.nan
        self.best_weights_ = None
        self.smoothed_ = math.nan
        self.misses_ = 0
        self.patience_ = self._resolve_patience(net)

    def on_epoch_end(self, net, **kwargs):
        score = net.history[-1].get(self.monitor, math.nan)
        self.smoothed_ = smoothed(self.smoothed_, score, self.smoothing)
        if self.smoothing:
            net.history.record(f"{self.monitor}_smoothed", self.smoothed_)
        tie_score = math.nan
        if self.tie_monitor is not None:
            tie_score = net.history[-1].get(self.tie_monitor, math.nan)
        score = self.smoothed_
        selected = self._improved(score) or self._wins_tie(score, tie_score)
        if self._beats(score, self.leader_):
            self.leader_ = score  # the best score seen, selected or not
        if selected:
            self.best_score_ = score
            self.best_tie_score_ = tie_score
            self.best_epoch_ = len(net.history)
            self.best_weights_ = copy.deepcopy(_unwrapped(net.module_).state_dict())
            self.misses_ = 0
        else:
            self.misses_ += 1
        if self.patience_ is not None and self.misses_ >= self.patience_:
            raise PatienceExhausted  # skorch ends training on a KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        if self.best_weights_ is not None and self.best_epoch_ != len(net.history):
            _unwrapped(net.module_).load_state_dict(self.best_weights_)
        self.best_weights_ = None  # the model holds them now; free the copy
        net.best_epoch_ = self.best_epoch_

    def _improved(self, score):
        if math.isnan(score):
            return False
        return improved(
            score, self.best_score_, self.min_delta, self._lower_is_better()
        )

    def _beats(self, score, other):
        return beats(score, other, self._lower_is_better())

    def _wins_tie(self, score, tie_score):
        return wins_tie(
            score,
            tie_score,
            self.leader_,
            self.best_tie_score_,
            self.min_delta,
            self._lower_is_better(),
        )

    def _lower_is_better(self):
        return lower_is_better(self.monitor, self.lower_is_better)

    def _resolve_patience(self, net):
        return resolve_patience(self.patience, net)


# -- the rule, for one network or for each member of a packed bag ---------------
def smoothed(previous, score, smoothing):
    """The exponential moving average after ``score`` (``previous``: NaN before the
    first score; a NaN ``score`` leaves it as it was)."""
    if math.isnan(score):
        return previous
    if math.isnan(previous) or not smoothing:
        return score
    return smoothing * previous + (1 - smoothing) * score


def beats(score, other, lower):
    """Whether ``score`` is better than ``other`` (NaN: no score)."""
    if math.isnan(score):
        return False
    if math.isnan(other):
        return True
    return score < other if lower else score > other


def improved(score, best, min_delta, lower):
    """Better than the selected epoch's score ``best`` by more than ``min_delta``."""
    if math.isnan(score):
        return False
    if math.isnan(best):
        return True
    return beats(score, best + (-min_delta if lower else min_delta), lower)


def wins_tie(score, tie_score, leader, best_tie, min_delta, lower):
    """Within ``min_delta`` of the best score seen so far (``leader``), and a lower
    ``tie_score`` than the selected epoch had (``best_tie``)."""
    if math.isnan(score) or math.isnan(tie_score) or math.isnan(leader):
        return False
    behind = (score - leader) if lower else (leader - score)
    if behind > min_delta:
        return False
    return math.isnan(best_tie) or tie_score < best_tie


def lower_is_better(monitor, given=None):
    """``given``, or for None whether ``monitor`` is a loss."""
    return monitor.endswith("loss") if given is None else given


def resolve_patience(patience, net):
    """``patience`` as an int or None (``"auto"``: ``max(10, max_epochs_ // 5)``)."""
    if patience == "auto":
        max_epochs = getattr(net, "max_epochs_", net.max_epochs)
        return max(10, int(max_epochs) // 5)
    if patience is not None and not (isinstance(patience, int) and patience >= 1):
        raise ValueError(
            f"patience must be a positive int, None or 'auto', got {patience!r}"
        )
    return patience


def _unwrapped(module):
    """The network inside a ``DistributedDataParallel`` wrapper: the weights are
    saved from, and restored into, the same object whether or not accelerate has
    unwrapped the net (it does so before the callbacks' ``on_train_end``)."""
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.module
    return module
