"""What skorch users' code relies on (issue: skorch's manners), Ctrl-C ending a
whole bag, and the warning for a positive class that is the majority."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch.exceptions import NotInitializedError
from torch.utils.data import TensorDataset

from tests.conftest import quiet

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("method", ["predict_proba", "predict", "forward"])
def test_before_fit_skorchs_not_initialized_error(imbalanced, method):
    X, _ = imbalanced
    clf = quiet()
    with pytest.raises(NotInitializedError):
        getattr(clf, method)(X)
    try:
        getattr(clf, method)(X)
    except NotFittedError:  # scikit-learn's clause catches it too
        pass


def test_dataset_without_labels_is_read_once(imbalanced):
    X, y = imbalanced
    ds = TensorDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    assert not hasattr(ds, "labels")
    clf = quiet(max_epochs=2).fit(ds, None)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict_proba(ds).shape == (len(y), 2)


class TwoUnits(torch.nn.Module):
    """The head of a softmax classifier: two logits a row."""

    def __init__(self, input_dim):
        super().__init__()
        self.layer = torch.nn.Linear(input_dim, 2)

    def forward(self, X):
        return self.layer(X)


class TwoMembers(TwoUnits):
    ensemble_size = 2  # declared: one logit per member


def test_undeclared_two_unit_output_is_refused(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match=r"got shape \(\d+, 2\).*ensemble_size = k"):
        quiet(module=TwoUnits).fit(X, y)
    clf = quiet(module=TwoMembers).fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 2)


def test_declared_ensembles_of_the_built_in_networks():
    from skimb.modules import MLP
    from skimb.modules.ensembles import ensemble_size

    assert ensemble_size(MLP(3, members=4)) == 4 and ensemble_size(MLP(3)) == 1
    assert ensemble_size(torch.nn.Linear(2, 1)) == 1


def test_positive_class_that_is_the_majority_warns(imbalanced):
    X, y = imbalanced
    labels = np.where(y == 1, "fraud", "ok")  # "ok" sorts last: the positive class
    with pytest.warns(UserWarning, match=r"classes_\[1\]='ok' is the majority"):
        quiet(max_epochs=1).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        quiet(max_epochs=1).fit(X, np.where(y == 1, "yes", "no"))


CHILD = """
import os, signal, warnings
import numpy as np
from sklearn.datasets import make_classification
from skorch.callbacks import Callback
from skimb import ImbalancedNetClassifier

trainings = []

class CtrlC(Callback):
    # the user presses Ctrl-C in the second network's third epoch
    def on_train_begin(self, net, **kwargs):
        trainings.append(0)

    def on_epoch_end(self, net, **kwargs):
        trainings[-1] += 1
        if len(trainings) == 2 and trainings[-1] == 3:
            os.kill(os.getpid(), signal.SIGINT)

X, y = make_classification(1500, weights=[0.9], random_state=0)
# the networks one after another (a packed bag is one fit: Ctrl-C ends it)
clf = ImbalancedNetClassifier(random_state=0, verbose=0, max_epochs=30,
                              callbacks=[CtrlC()], bagging__packed=False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf.fit(X, y)
print("BAGS", clf.n_bags_, clf.fit_interrupted_, trainings)
print("WARNED", any("interrupted" in str(w.message) for w in caught))
print("PROBA", clf.predict_proba(X[:3]).shape)
"""


def test_ctrl_c_ends_the_whole_bag():
    # A real SIGINT in a real process, delivered as Ctrl-C is.
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "BAGS 2 True [" in result.stdout  # two networks, not five
    assert "trainings" not in result.stdout
    trainings = result.stdout.split("[", 1)[1].split("]")[0]
    assert [int(t) for t in trainings.split(",")][1] == 3  # the second stopped there
    assert "WARNED True" in result.stdout
    assert "PROBA (3, 2)" in result.stdout


def test_patience_is_no_interrupt(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=40, early_stopping__patience=2).fit(X, y)
    assert len(clf.history) < 40 and clf.fit_interrupted_ is False
