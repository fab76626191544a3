"""The decision threshold of ``predict``, tuned for F1 on held-out predictions.

F1 depends on the threshold, and 0.5 is the right one only for calibrated
probabilities of balanced classes. ``threshold="f1"`` tunes it on the validation rows,
after the selected epoch's weights are restored (:func:`tuned_threshold`): the mean of

* the threshold with the highest F1 against the validation labels
  (:func:`f1_optimal_threshold`, as scikit-learn's ``TunedThresholdClassifierCV``
  searches the scores), and
* the threshold with the highest *expected* F1 under the model's own
  prior-corrected probabilities of the same rows (:func:`expected_f1_threshold`).

The first is noisy when the validation rows hold a handful of positives, the second
trusts the calibration; their mean scored a higher test F1 than either alone on the
quality benchmark's KEEL sets (``benchmarks/bench_thresholds.py``: 0.553 vs 0.543 and
0.518; see the README).
"""

import numpy as np

from .data.index import chunk_bounds


def f1_optimal_threshold(y_true, proba, sample_weight=None):
    """The threshold ``t`` for which ``proba > t`` has the highest F1 on ``y_true``.

    ``t`` lies halfway between the lowest score predicted positive and the next
    lower score, so that rows scored just below the chosen cut stay negative and
    nearby unseen scores fall on the side the data put them. Ties in F1 go to the
    higher threshold (fewer positives predicted).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truthy values are positives.
    proba : array-like of shape (n,)
        Predicted probabilities of the positive class.
    sample_weight : array-like of shape (n,) or None

    Returns
    -------
    float
        In ``[0, 1)`` (just below 0 when predicting every row positive is best
        and the lowest score is 0); 0.5 when ``y_true`` holds one class only, or
        one class has zero total weight (F1 then does not depend on the threshold).

    Examples
    --------
    >>> round(f1_optimal_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8]), 6)
    0.325
    """
    y_true = np.asarray(y_true).ravel() > 0.5
    return curve_of(y_true, proba, sample_weight).f1_threshold()


def expected_f1_threshold(proba, sample_weight=None):
    r"""The threshold that maximises the expected F1 if ``proba`` is calibrated.

    With rows sorted by decreasing probability and the top :math:`k` predicted
    positive, the expected F1 is approximated by
    :math:`2 \sum_{i \le k} p_i / (k + \sum_i p_i)`; no labels are needed.

    Examples
    --------
    >>> round(expected_f1_threshold([0.9, 0.8, 0.2, 0.1, 0.05]), 6)
    0.5
    """
    if sample_weight is None:  # no labels needed: any will do
        return RankCurve(np.zeros(np.size(proba), bool), proba).expected_f1_threshold()
    return Curve(proba, proba, sample_weight).expected_f1_threshold()


class _CountsAtScores:
    """What :class:`Curve` and :class:`RankCurve` share: ``tps[i]`` and ``fps[i]``,
    the (weighted) positives and negatives scoring at least ``scores[i]`` (scores
    decreasing), and ``threshold_after(i)``."""

    def f1_threshold(self):
        """:func:`f1_optimal_threshold` of this curve (0.5 with one class only)."""
        if not self.has_both_classes:
            return 0.5
        f1 = 2 * self.tps / (self.tps[-1] + self.tps + self.fps)
        return self.threshold_after(int(np.argmax(f1)))  # argmax: the highest cut

    def average_precision(self):
        """As scikit-learn's ``average_precision_score``."""
        precision = self.tps / (self.tps + self.fps)
        recall = self.tps / self.tps[-1]
        return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _halfway_down(score, lower):
    """A threshold that predicts exactly the rows scored >= ``score``: halfway to
    ``lower``, the next lower score (None: none is lower)."""
    if lower is not None:
        return float((score + lower) / 2.0)
    return float(score / 2.0) if score > 0 else float(np.nextafter(0.0, -1.0))


class Curve(_CountsAtScores):
    """Cumulative weighted true and false positives at each distinct score.

    ``tps[i]`` and ``fps[i]`` count the rows with ``proba >= scores[i]``, scores in
    decreasing order: the one sort that precision-recall, ROC and F1 curves share.
    ``y_true`` holds 0/1 labels, or soft labels in [0, 1].
    """

    def __init__(self, y_true, proba, sample_weight=None):
        proba = np.asarray(proba, dtype=np.float64).ravel()
        y = np.asarray(y_true).ravel()
        if y.dtype != bool:
            y = y.astype(np.float64, copy=False)
        order = np.argsort(-proba, kind="stable")
        proba, y = proba[order], y[order]
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64).ravel()[order]
        del order
        last_of_tie = np.r_[proba[1:] < proba[:-1], True]
        self.scores = proba[last_of_tie]
        if w is None:
            # No weight arrays: a validation split of millions of rows is scored
            # with a few bytes a row beyond the sort.
            self.tps = np.cumsum(y, dtype=np.float64)[last_of_tie]
        else:
            self.tps = np.cumsum(w * y)[last_of_tie]
        if w is None and y.dtype == bool:
            # rows so far less the positives among them: exact in float64
            self.fps = (np.flatnonzero(last_of_tie) + 1.0) - self.tps
        else:
            weights = np.ones_like(proba) if w is None else w
            negatives = ~y if y.dtype == bool else 1 - y
            self.fps = np.cumsum(weights * negatives)[last_of_tie]
        self.has_both_classes = bool(self.tps[-1] > 0 and self.fps[-1] > 0)
        # kept for expected_f1_threshold (the per-epoch scores never ask for it)
        self._sorted = (proba, w, last_of_tie)

    def expected_f1_threshold(self):
        """:func:`expected_f1_threshold` of this curve's scores, from its sort."""
        proba, w, last_of_tie = self._sorted
        # the probabilities as soft labels: expected true positives
        expected_tps = np.cumsum(proba if w is None else w * proba)[last_of_tie]
        # predicted positives: tps + fps (weights); expected positives: all p_i
        expected = 2 * expected_tps / (self.tps + self.fps + expected_tps[-1])
        return self.threshold_after(int(np.argmax(expected)))

    def threshold_after(self, i):
        """A threshold that predicts exactly the rows scored >= ``scores[i]``."""
        lower = self.scores[i + 1] if i + 1 < len(self.scores) else None
        return _halfway_down(self.scores[i], lower)

    def roc_auc(self):
        """As scikit-learn's ``roc_auc_score`` (trapezoids, ties count half)."""
        tpr = np.r_[0.0, self.tps] / self.tps[-1]
        fpr = np.r_[0.0, self.fps] / self.fps[-1]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def curve_of(y_true, proba, sample_weight=None, overwrite_proba=False):
    """The curve of 0/1 ``y_true`` (bool) against ``proba``: a :class:`RankCurve`
    without weights (8 bytes a row; none with ``overwrite_proba``, which sorts a
    float64 ``proba`` in place), else a :class:`Curve`."""
    if sample_weight is None and np.asarray(y_true).dtype == bool:
        return RankCurve(y_true, proba, overwrite_proba=overwrite_proba)
    return Curve(y_true, proba, sample_weight)


class RankCurve(_CountsAtScores):
    """:class:`Curve`'s scores and thresholds for 0/1 labels without weights, from
    one sorted copy of the probabilities.

    ``Curve`` keeps a cumulative count at every distinct score, after an argsort:
    about 40 bytes a row at its peak, which over the validation split of a table of
    millions of rows is most of a fit's memory. Without weights the counts at any
    score are positions in the sorted probabilities (``np.searchsorted``), and
    precision, recall and F1 change only at the positives' scores; the expected F1
    runs over the sorted copy in chunks. The thresholds are Curve's exactly; the
    average precision and ROC-AUC equal it up to float rounding (tested against
    scikit-learn).
    """

    _CHUNK = 1 << 16  # rows of the expected-F1 pass at a time (~3 MiB of arrays)

    def __init__(self, y_true, proba, overwrite_proba=False):
        proba = np.asarray(proba, dtype=np.float64).ravel()
        positive = np.asarray(y_true, dtype=bool).ravel()
        if proba.size == 0:
            raise ValueError("no predictions to build a curve of")
        positives = np.sort(proba[positive])[::-1]
        if overwrite_proba:  # the caller's array is let go: sorted where it is
            proba.sort()
            self._sorted = proba
        else:
            self._sorted = np.sort(proba)  # ascending
        self.n_rows, self.n_pos = proba.size, positives.size
        self.has_both_classes = 0 < self.n_pos < self.n_rows
        # The positives' distinct scores (decreasing), and the positives and
        # negatives scoring at least each.
        last_of_tie = np.append(positives[1:] < positives[:-1], positives.size > 0)
        last_of_tie = last_of_tie[: positives.size]
        self.scores = positives[last_of_tie]
        self.tps = np.flatnonzero(last_of_tie) + 1.0
        at_least = self.n_rows - np.searchsorted(self._sorted, self.scores, "left")
        self.fps = at_least - self.tps

    def expected_f1_threshold(self):
        """:func:`expected_f1_threshold` of these probabilities."""
        descending = self._sorted[::-1]
        chunks = list(chunk_bounds(descending.size, size=self._CHUNK))
        total = 0.0
        for start, stop in chunks:  # the sum, added in Curve's order
            total = _running_sum(descending[start:stop], total)[-1]
        best, best_score, carry = -np.inf, None, 0.0
        for start, stop in chunks:
            expected_tps = _running_sum(descending[start:stop], carry)
            carry = expected_tps[-1]
            following = descending[start + 1 : stop + 1]  # one short at the end
            ends = np.flatnonzero(
                following < descending[start : start + following.size]
            )
            if stop == descending.size:
                ends = np.r_[ends, stop - start - 1]
            if ends.size == 0:
                continue  # one tie all through the chunk
            # rows scoring >= each distinct score: its last position + 1
            expected = 2 * expected_tps[ends] / ((start + ends + 1.0) + total)
            i = int(np.argmax(expected))
            if expected[i] > best:
                best, best_score = expected[i], descending[start + ends[i]]
        return self._threshold_below(best_score)

    def roc_auc(self):
        """As scikit-learn's ``roc_auc_score``: the chance that a positive scores
        above a negative, ties counting half."""
        below = np.searchsorted(self._sorted, self.scores, "left")
        tied = np.searchsorted(self._sorted, self.scores, "right") - below
        positives_here = np.diff(np.r_[0.0, self.tps])
        negatives_below = below - (self.n_pos - self.tps)
        negatives_tied = tied - positives_here
        n_neg = self.n_rows - self.n_pos
        wins = positives_here * (negatives_below + 0.5 * negatives_tied)
        return float(np.sum(wins) / (self.n_pos * n_neg))

    def counts_at(self, threshold):
        """:func:`counts_at` of these predictions, from the sorted scores."""
        predicted = self.n_rows - int(np.searchsorted(self._sorted, threshold, "right"))
        above = int(np.count_nonzero(self.scores > threshold))  # positives' scores
        true_pos = int(self.tps[above - 1]) if above else 0
        return Counts(true_pos, predicted, self.n_pos, self.n_rows)

    def threshold_after(self, i):
        """A threshold that predicts exactly the rows scored >= ``scores[i]`` (the
        positives' scores: F1 peaks at one, as below it come more negatives and no
        more positives)."""
        return self._threshold_below(self.scores[i])

    def _threshold_below(self, score):
        """Curve's threshold after ``score``: halfway to the next lower score of
        any row."""
        i = int(np.searchsorted(self._sorted, score, "left"))
        return _halfway_down(score, self._sorted[i - 1] if i > 0 else None)


def _running_sum(values, carry):
    """``np.cumsum`` of ``values`` started from ``carry``, added one by one as
    numpy adds them."""
    out = np.array(values, dtype=np.float64)
    out[0] += carry
    return np.cumsum(out, out=out)


def tuned_threshold(
    y_true, proba, sample_weight=None, curve=None, overwrite_proba=False
):
    """What ``threshold="f1"`` uses: the mean of :func:`f1_optimal_threshold` and
    :func:`expected_f1_threshold` on the same rows. ``curve``: their
    :class:`Curve`, when the caller has built it already; ``overwrite_proba``: a
    float64 ``proba`` the caller lets go may be sorted in place (:func:`curve_of`).

    Examples
    --------
    >>> round(tuned_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8]), 6)
    0.325
    """
    if curve is None:
        y_true = np.asarray(y_true).ravel() > 0.5
        curve = curve_of(y_true, proba, sample_weight, overwrite_proba)
    return 0.5 * (curve.f1_threshold() + curve.expected_f1_threshold())


class Counts:
    """The (weighted) true positives, predicted positives, positives and rows of
    predicting ``proba > threshold``: F1 and accuracy from the same counts."""

    def __init__(self, true_pos, predicted, positives, rows):
        self.true_pos, self.predicted = true_pos, predicted
        self.positives, self.rows = positives, rows

    def f1(self):
        """0 when nothing is predicted positive and there are no positives."""
        denominator = self.positives + self.predicted
        return float(2 * self.true_pos / denominator) if denominator > 0 else 0.0

    def accuracy(self):
        """(true positives + true negatives) / rows; NaN without rows."""
        if not self.rows > 0:
            return float("nan")
        true_neg = self.rows - self.positives - self.predicted + self.true_pos
        return float((self.true_pos + true_neg) / self.rows)


def counts_at(y_true, proba, threshold, sample_weight=None):
    """The :class:`Counts` of predicting ``proba > threshold`` against ``y_true``."""
    y_true = np.asarray(y_true).ravel() > 0.5
    predicted = np.asarray(proba).ravel() > threshold
    if sample_weight is None:  # counts: no array of ones
        return Counts(
            np.count_nonzero(y_true & predicted),
            np.count_nonzero(predicted),
            np.count_nonzero(y_true),
            y_true.size,
        )
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    return Counts(
        w[y_true & predicted].sum(), w[predicted].sum(), w[y_true].sum(), w.sum()
    )


def f1_at(y_true, proba, threshold, sample_weight=None):
    """F1 of predicting ``proba > threshold`` (0 when nothing is predicted positive)."""
    return counts_at(y_true, proba, threshold, sample_weight).f1()
