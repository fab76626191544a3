"""Plots of a fitted classifier, in the manner of scikit-learn's ``*Display`` objects.

matplotlib is optional (``pip install "skimb[plots]"``): it is imported when a plot is
drawn, never when skimb is.
"""

import numpy as np
from sklearn.exceptions import NotFittedError

#: history keys drawn, by panel
LOSSES = ("train_loss", "valid_loss", "valid_log_loss")
SCORES = ("valid_ap", "valid_roc_auc", "valid_f1")
WEIGHT = "pos_weight"


class HistoryDisplay:
    """The training history of a fitted :class:`~skimb.ImbalancedNetClassifier`.

    Three panels against the epoch: train and validation losses; validation AP,
    ROC-AUC and F1; the positive weight in force. The selected epoch
    (``best_epoch_``) is marked on each. Build it with :meth:`from_estimator`.
    After a sequential bag it draws the last network's history, after a packed
    bag (the default MLP's) the packed fit's, whose validation scores are the
    out-of-fold ones (each member's are in ``bag_histories_``).

    Parameters
    ----------
    epochs : ndarray of int
        Epoch numbers, from 1.
    curves : dict of str to ndarray
        History values per key (``train_loss``, ``valid_ap``, ``pos_weight``, ...);
        NaN where an epoch has none.
    best_epoch : int or None, default=None
        The epoch to mark.
    estimator_name : str or None, default=None
        Title of the figure.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        The three panels (losses, scores, weight).
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimb import HistoryDisplay, ImbalancedNetClassifier
    >>> X, y = make_classification(500, weights=[0.9], random_state=0)
    >>> clf = ImbalancedNetClassifier(max_epochs=5, verbose=0).fit(X, y)
    >>> display = HistoryDisplay.from_estimator(clf)  # doctest: +SKIP
    >>> display.figure_.savefig("history.png")  # doctest: +SKIP
    """

    def __init__(self, *, epochs, curves, best_epoch=None, estimator_name=None):
        self.epochs = epochs
        self.curves = curves
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None):
        """Read the history of a fitted ``estimator`` and plot it.

        Parameters
        ----------
        estimator : fitted ImbalancedNetClassifier (or skorch net)
        ax : None, or a sequence of 3 matplotlib Axes
            Where to draw; ``None`` makes a new figure with three panels.
        name : str or None
            Title; defaults to the estimator's class name.

        Returns
        -------
        HistoryDisplay
        """
        history = getattr(estimator, "history_", None)
        if not getattr(estimator, "initialized_", False) or not history:
            raise NotFittedError(
                f"This {type(estimator).__name__} instance has no training history "
                "yet: call fit before HistoryDisplay.from_estimator"
            )
        keys = (*LOSSES, *SCORES, WEIGHT)
        curves = {
            key: np.array([row.get(key, np.nan) for row in history], dtype=float)
            for key in keys
            if any(key in row for row in history)
        }
        display = cls(
            epochs=np.arange(1, len(history) + 1),
            curves=curves,
            best_epoch=getattr(estimator, "best_epoch_", None),
            estimator_name=name or type(estimator).__name__,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the three panels; returns ``self`` with ``ax_`` and ``figure_`` set."""
        plt = _pyplot()
        if ax is None:
            figure, ax = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
        else:
            ax = np.asarray(ax, dtype=object).ravel()
            if ax.size != 3:
                raise ValueError(
                    f"ax must hold 3 Axes (losses, scores, weight), got {ax.size}"
                )
            figure = ax[0].figure
        panels = [
            (LOSSES, "loss"),
            (SCORES, "validation score"),
            ((WEIGHT,), "pos_weight"),
        ]
        for axes, (keys, label) in zip(ax, panels, strict=True):
            for key in keys:
                if key in self.curves:
                    axes.plot(self.epochs, self.curves[key], marker=".", label=key)
            if self.best_epoch is not None:
                axes.axvline(self.best_epoch, color="black", linestyle=":", linewidth=1,
                             label=f"best_epoch_ = {self.best_epoch}")  # fmt: skip
            axes.set_ylabel(label)
            if axes.get_legend_handles_labels()[0]:
                axes.legend(loc="best", fontsize="small")
        ax[-1].set_xlabel("epoch")
        if self.estimator_name:
            ax[0].set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, figure
        return self


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "plotting needs matplotlib, which skimb does not install by default: "
            'pip install "skimb[plots]" (or pip install matplotlib)'
        ) from error
    return plt
