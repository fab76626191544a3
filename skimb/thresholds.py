"""The decision threshold of ``predict``, tuned for F1 on held-out predictions.

F1 depends on the threshold, and 0.5 is the right one only for calibrated
probabilities of balanced classes. ``threshold="f1"`` picks the threshold that
maximises F1 on the validation rows, after the selected epoch's weights are restored,
in the way scikit-learn's ``TunedThresholdClassifierCV`` searches the predicted
scores.
"""

import numpy as np
from sklearn.metrics import precision_recall_curve


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
    proba = np.asarray(proba, dtype=np.float64).ravel()
    if not has_both_classes(y_true, sample_weight):
        return 0.5
    precision, recall, cuts = precision_recall_curve(
        y_true, proba, sample_weight=sample_weight
    )
    # precision/recall[i] belong to predicting `proba >= cuts[i]`; the last entry
    # (recall 0) has no cut.
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall,
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))  # the highest cut among ties
    cut = cuts[best]
    below = proba[proba < cut]
    if below.size:
        return float((cut + below.max()) / 2.0)
    # every row predicted positive: any threshold below the lowest score
    return float(cut / 2.0) if cut > 0 else float(np.nextafter(0.0, -1.0))


def has_both_classes(y_true, sample_weight=None):
    """Whether both classes of boolean ``y_true`` have a positive total weight."""
    w = np.ones(y_true.shape) if sample_weight is None else np.asarray(sample_weight)
    return bool(w[y_true].sum() > 0 and w[~y_true].sum() > 0)


def best_f1(y_true, proba, sample_weight=None):
    """The highest F1 that any threshold reaches on ``proba``.

    Examples
    --------
    >>> best_f1([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8])
    1.0
    """
    threshold = f1_optimal_threshold(y_true, proba, sample_weight)
    return f1_at(y_true, proba, threshold, sample_weight)


def f1_at(y_true, proba, threshold, sample_weight=None):
    """F1 of predicting ``proba > threshold`` (0 when nothing is predicted positive)."""
    y_true = np.asarray(y_true).ravel() > 0.5
    predicted = np.asarray(proba).ravel() > threshold
    w = np.ones(y_true.shape) if sample_weight is None else np.asarray(sample_weight)
    true_pos = w[y_true & predicted].sum()
    denominator = w[y_true].sum() + w[predicted].sum()
    return float(2 * true_pos / denominator) if denominator > 0 else 0.0
