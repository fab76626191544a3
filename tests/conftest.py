import numpy as np
import pytest
from sklearn.datasets import make_classification
from skorch.callbacks import Callback


@pytest.fixture(scope="session")
def imbalanced():
    """1,500 rows, 10 features, about 5% positives."""
    X, y = make_classification(
        n_samples=1500,
        n_features=10,
        n_informative=5,
        weights=[0.95],
        flip_y=0.0,
        class_sep=1.5,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="session")
def rare():
    """4,000 rows, 8 features, 1% positives."""
    X, y = make_classification(
        n_samples=4000,
        n_features=8,
        n_informative=4,
        weights=[0.99],
        flip_y=0.0,
        class_sep=2.0,
        random_state=1,
    )
    return X.astype(np.float32), y


def quiet(**params):
    """A small, fast, reproducible classifier for tests: one network (no bagging,
    whose own tests ask for it)."""
    from skimb import ImbalancedNetClassifier

    params = {
        "max_epochs": 4, "verbose": 0, "random_state": 0, "lr": 0.01,
        "bagging": None, **params,
    }  # fmt: skip
    return ImbalancedNetClassifier(**params)


class RecordBatches(Callback):
    """Records (X, y) of every training batch the net actually sees, as NumPy, and
    the epoch (1-based) each came in."""

    def initialize(self):
        self.batches_, self.epochs_ = [], []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.batches_.append(tuple(t.cpu().numpy().copy() for t in batch))
            self.epochs_.append(len(net.history))
