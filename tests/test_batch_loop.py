"""The per-batch path (skimb.batch_loop): skorch's hooks and modes, fewer calls."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch import NeuralNet
from skorch.callbacks import Callback

from skimb.modules import MLP
from tests.conftest import quiet


class CountHooks(Callback):
    """Counts the batch hooks it receives."""

    def initialize(self):
        self.calls_ = {"begin": 0, "grad": 0, "end": 0, "end_training": 0}
        return self

    def on_batch_begin(self, net, **kwargs):
        self.calls_["begin"] += 1

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.calls_["grad"] += 1

    def on_batch_end(self, net, training=False, **kwargs):
        self.calls_["end"] += 1
        self.calls_["end_training"] += training


def test_callbacks_get_every_batch_hook_they_define(imbalanced):
    X, y = imbalanced
    counter = CountHooks()
    clf = quiet(max_epochs=3, batch_size=100, callbacks=[counter]).fit(X, y)
    train_batches = sum(len(h["batches"]) for h in clf.history)
    n_train = len(X) - round(0.2 * len(X))
    assert (
        counter.calls_["grad"]
        == counter.calls_["end_training"]
        == 3 * -(-n_train // 100)
    )
    assert counter.calls_["begin"] == counter.calls_["end"] == train_batches
    # callbacks changed after a fit (callbacks_ rebuilt) are heard
    clf.callbacks = [CountHooks()]
    clf.initialize_callbacks().partial_fit(X, y)
    (late,) = [cb for _, cb in clf.callbacks_ if isinstance(cb, CountHooks)]
    assert late is not counter and late.calls_["grad"] == 3 * -(-n_train // 100)


def test_every_fit_of_one_net_reaches_its_own_callbacks(imbalanced):
    # each fit builds new callback instances (a new callbacks_ list): the batch
    # hooks must reach those, never the instances of an earlier fit
    X, y = imbalanced
    clf = quiet(max_epochs=2, callbacks=[CountHooks()])
    for _ in range(4):
        clf.fit(X, y)
        listeners = clf._batch_listeners("on_batch_end")
        current = [cb for _, cb in clf.callbacks_]
        assert all(any(cb is c for c in current) for cb in listeners)
        assert not np.isnan(clf.history[-1, "valid_ap"])


def test_listeners_skip_the_base_class_no_ops(imbalanced):
    X, y = imbalanced
    clf = quiet(max_epochs=1, callbacks=[CountHooks()]).fit(X, y)
    listeners = clf._batch_listeners("on_grad_computed")
    assert [type(cb) for cb in listeners] == [CountHooks]
    every = [cb for _, cb in clf.callbacks_]
    assert len(every) > len(listeners)  # skorch's own do not listen


class RecordModes(MLP):
    """An MLP that records whether it ran in training mode, and the grad mode."""

    modes = []

    def forward(self, X):
        RecordModes.modes.append((self.training, torch.is_grad_enabled()))
        return super().forward(X)


def test_modes_are_those_skorch_sets(imbalanced):
    X, y = imbalanced
    clf = quiet(module=RecordModes, module__dropout=0.5, max_epochs=2, batch_size=200)
    RecordModes.modes = []
    clf.fit(X, y)
    modes = RecordModes.modes
    n_valid = -(-round(0.2 * len(X)) // 200)
    n_train = -(-(len(X) - round(0.2 * len(X))) // 200)
    # per epoch: the training batches with grad, then the validation batches
    # without (and the threshold pass at the end, without)
    epoch = [(True, True)] * n_train + [(False, False)] * n_valid
    assert modes[: 2 * len(epoch)] == 2 * epoch
    assert set(modes[2 * len(epoch) :]) == {(False, False)}
    RecordModes.modes = []
    clf.predict_proba(X)
    assert set(RecordModes.modes) == {(False, False)}
    assert torch.is_grad_enabled()  # nothing leaks out of the generator


def test_prediction_checks_the_fit_and_equals_skorchs_loop(imbalanced):
    X, y = imbalanced
    with pytest.raises(NotFittedError):
        quiet().predict_proba(X)
    clf = quiet(max_epochs=2).fit(X, y)
    with clf._device_context():  # device="auto" resolved, as predict_proba does
        lean = np.concatenate([t.numpy() for t in clf.forward_iter(X)])
        skorchs = np.concatenate(
            [t.numpy() for t in NeuralNet.forward_iter(clf, X)]  # evaluation_step's
        )
    np.testing.assert_array_equal(lean, skorchs)


def test_an_overridden_evaluation_step_is_still_used(imbalanced):
    X, y = imbalanced
    from skimb import ImbalancedNetClassifier

    class Doubled(ImbalancedNetClassifier):
        def evaluation_step(self, batch, training=False):
            return 2 * super().evaluation_step(batch, training)

    params = dict(max_epochs=1, verbose=0, random_state=0, bagging=None)
    plain = ImbalancedNetClassifier(**params).fit(X, y)
    doubled = Doubled(**params).fit(X, y)
    np.testing.assert_allclose(
        doubled.predict_proba(X)[:, 1],
        # the doubled logit through the same prior-corrected sigmoid
        1 / (1 + np.exp(-(2 * plain_logits(plain, X) - plain.logit_shift_))),
        rtol=1e-4,
    )


def plain_logits(clf, X):
    with clf._device_context():
        return np.concatenate([t.numpy() for t in clf.forward_iter(X)]).ravel()
