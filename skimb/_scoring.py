"""Validation scores on encoded 0/1 targets, for skorch's ``EpochScoring``.

The validation targets skorch hands to a scorer are the encoded 0/1 floats, while
``predict`` returns the user's labels, so scikit-learn's string scorers would compare
the two. These read ``predict_proba`` instead, and give NaN on a one-class split.
"""

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from skorch.utils import to_numpy


def valid_roc_auc(net, X, y):
    return _score(roc_auc_score, net, X, y)


def valid_ap(net, X, y):
    return _score(average_precision_score, net, X, y)


def valid_f1(net, X, y):
    def f1_at_threshold(y_true, proba):
        return f1_score(y_true, proba > net.threshold, zero_division=0.0)

    return _score(f1_at_threshold, net, X, y)


def _score(metric, net, X, y):
    y_true = np.asarray(to_numpy(y)).ravel() > 0.5
    proba = net.predict_proba(X)[:, 1]
    if y_true.all() or not y_true.any():
        return float("nan")
    return float(metric(y_true, proba))
