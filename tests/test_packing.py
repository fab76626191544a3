"""Packed cross-fit bagging (skimb.packing): the k networks of a bag trained as one
module, each member on its own training folds, selected on its own fold."""

import copy
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skimb import ImbalancedNetClassifier
from skimb.bagging import BaggedModule, FoldSplit
from skimb.data.split import fold_of_rows
from skimb.modules import MLP
from skimb.packing.members import MemberRows
from skimb.packing.module import PackedBag
from skimb.seeds import derived_seed


def packed(**params):
    params = {"max_epochs": 4, "verbose": 0, "random_state": 0, "lr": 0.01,
              "bagging__packed": True, **params}  # fmt: skip
    return ImbalancedNetClassifier(**params)


def folds_of(y, bags=5, random_state=0):
    """The bag's folds, as fit_bagged draws them from ``random_state``."""
    return fold_of_rows(y, bags, derived_seed(random_state))


def member_weights(clf, j):
    """Member ``j``'s slices of the packed module's weights."""
    return {k: v[j].clone() for k, v in clf.module_.network.state_dict().items()}


class Snapshots(Callback):
    """The module's weights at the end of every epoch."""

    def initialize(self):
        self.states_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states_.append(copy.deepcopy(net.module_.state_dict()))


class ZeroLogistic(torch.nn.Module):
    """Logistic regression, ``members`` of them side by side, all weights 0 at the
    start: a packed fit and a sequential one start from the same weights."""

    packed_members = "members"

    def __init__(self, input_dim, members=1):
        super().__init__()
        self.members = members
        self.weight = torch.nn.Parameter(torch.zeros(members, input_dim))
        self.bias = torch.nn.Parameter(torch.zeros(members))

    @property
    def ensemble_size(self):
        return self.members

    def forward(self, X):
        logits = X @ self.weight.T + self.bias
        return logits[:, 0] if self.members == 1 else logits


def test_the_default_bag_is_packed_and_predicts_the_mean_of_its_members(imbalanced):
    X, y = imbalanced
    clf = packed().fit(X, y)
    assert isinstance(clf.module_, PackedBag) and clf.bag_packed_
    assert clf.n_bags_ == 5 and len(clf.best_epochs_) == len(clf.bag_histories_) == 5
    bag = clf.module_
    with torch.no_grad():
        x = bag.scaler.transform(torch.as_tensor(X, dtype=torch.float32))
        logits = bag.network(x).double().numpy()
    shifts = bag.logit_shifts.double().numpy()
    expected = (1 / (1 + np.exp(-(logits - shifts)))).mean(axis=1)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=1e-5)
    # each member's prior correction is that of its own training folds
    folds = folds_of(y)
    for j in range(5):
        n_pos = y[folds != j].sum()
        weight = (np.sum(folds != j) - n_pos) / n_pos
        assert shifts[j] == pytest.approx(np.log(weight), rel=1e-5)
    member = clf.bag_histories_[0]
    assert {"train_loss", "valid_loss", "valid_ap", "pos_weight"} <= set(member[-1])


def test_a_member_never_trains_on_its_validation_fold(imbalanced):
    # Fold j's features made absurd: member j, which must never train on them,
    # ends with the same weights, bit for bit; every other member trains on them.
    X, y = imbalanced
    X = X.astype(np.float32)
    params = dict(scaling=None, early_stopping=False, max_epochs=3, bagging=3)
    j = 1
    absurd = X.copy()
    rows = folds_of(y, bags=3) == j
    absurd[rows] = 1e3 * np.random.default_rng(0).normal(size=absurd[rows].shape)
    plain = packed(**params).fit(X, y)
    changed = packed(**params).fit(absurd, y)
    for name, value in member_weights(plain, j).items():
        torch.testing.assert_close(
            member_weights(changed, j)[name], value, rtol=0, atol=0
        )
    for other in (0, 2):
        assert not torch.equal(
            member_weights(changed, other)["net.0.weight"],
            member_weights(plain, other)["net.0.weight"],
        )


def test_each_member_ends_with_the_weights_of_its_selected_epoch(imbalanced):
    X, y = imbalanced
    snapshots = Snapshots()
    clf = packed(
        max_epochs=15,
        early_stopping__patience=3,
        callbacks=[("snapshots", snapshots)],
    ).fit(X, y)
    assert all(e is not None for e in clf.best_epochs_)
    for j, epoch in enumerate(clf.best_epochs_):
        kept = snapshots.states_[epoch - 1]
        for name, value in member_weights(clf, j).items():
            torch.testing.assert_close(value, kept[f"{name}"][j], rtol=0, atol=0)
        # a member's history ends where its patience ran out
        assert len(clf.bag_histories_[j]) >= epoch
    assert clf.best_epoch_ == clf.best_epochs_[-1]
    assert len(clf.history) == max(len(h) for h in clf.bag_histories_)


class ComputedMembers(Callback):
    """How many members each training batch of an epoch computed (1-based epochs)."""

    def initialize(self):
        self.per_epoch_ = {}
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            members = net.module_.training_members
            k = net.module_.members if members is None else len(members)
            self.per_epoch_.setdefault(len(net.history), set()).add(k)


def test_members_whose_patience_ran_out_are_computed_no_more(imbalanced):
    # Once two of the five members have stopped, training batches compute the
    # others alone (with one stopped, all five train on: a subset costs as much).
    X, y = imbalanced
    computed = ComputedMembers()
    clf = packed(
        max_epochs=40,
        early_stopping__patience=2,
        lr=0.02,
        callbacks=[("computed", computed)],
    ).fit(X, y)
    lengths = [len(h) for h in clf.bag_histories_]
    for epoch, counts in computed.per_epoch_.items():
        # members whose history reaches this epoch had not stopped before it
        still = sum(n >= epoch for n in lengths)
        assert counts == {still if still <= 3 else 5}, (epoch, lengths)
    assert min(min(c) for c in computed.per_epoch_.values()) < 5, lengths
    assert clf.module_.network.training_members is None  # every member after


def test_a_member_left_out_gets_no_gradient_and_the_others_theirs():
    # The masked loss of the members still trained, computed on them alone, has
    # the gradients the loss computed on every member has for them; the members
    # left out get none.
    torch.manual_seed(0)
    n, k = 64, 5
    X = torch.randn(n, 7)
    folds = np.arange(n) % k
    rows = MemberRows(folds, k)
    targets = torch.as_tensor(rows.targets((np.arange(n) % 3 == 0).astype(float)))
    criterion = torch.nn.BCEWithLogitsLoss(reduction="none")
    module = MLP(7, members=k)

    def gradients(trained):
        module.zero_grad()
        rows.train_only(trained, module)
        rows.loss(criterion, module(X), targets, training=True).backward()
        return {name: p.grad.clone() for name, p in module.named_parameters()}

    every = gradients(None)
    rows.epoch_losses(training=True)  # the sums start again
    lean = gradients([0, 2, 4])
    losses = rows.epoch_losses(training=True)  # no loss for the members left out
    assert np.isnan(losses[1]) and np.isnan(losses[3]) and np.isfinite(losses[0])
    # only the members trained are computed in training; every one in evaluation
    assert torch.count_nonzero(module(X)[:, [1, 3]]) == 0
    assert torch.count_nonzero(module.eval()(X)[:, [1, 3]]) > 0
    module.train()
    # the loss recorded is the mean over the members trained
    loss = rows.loss(criterion, module(X), targets, training=True)
    member_losses = rows.epoch_losses(training=True)
    assert float(loss) == pytest.approx(np.nanmean(member_losses), rel=1e-5)
    assert module.training_members.tolist() == [0, 2, 4]
    for name, grad in lean.items():
        torch.testing.assert_close(grad[[0, 2, 4]], every[name][[0, 2, 4]])
        assert torch.count_nonzero(every[name][[1, 3]]) > 0
        assert torch.count_nonzero(grad[[1, 3]]) == 0
    rows.train_only([0, 1, 2, 4], module)  # one left out: every member computed
    assert module.training_members is None and rows._trained is None


def test_out_of_fold_predictions_equal_the_sequential_bags_where_both_must_agree(
    imbalanced,
):
    # Full batches, the same (zero) initial weights and no scaling: member j of the
    # packed bag sees the gradients network j of the sequential bag sees (over k,
    # which Adam does not see), so both select the same epochs and predict alike.
    # (Not with pos_weight="balanced": its gradient of the bias at zero weights is
    # 0 up to rounding, and Adam's first step is the sign of that rounding.)
    X, y = imbalanced
    X = X.astype(np.float32)
    params = dict(
        module=ZeroLogistic,
        bagging=3,
        batch_size=-1,
        max_epochs=12,
        early_stopping__patience=4,
        scaling=None,
        lr=0.05,
        pos_weight="sqrt",
    )
    fast = packed(**params).fit(X, y)
    slow = packed(bagging__packed=False, **params).fit(X, y)
    assert isinstance(fast.module_, PackedBag) and isinstance(
        slow.module_, BaggedModule
    )
    assert fast.best_epochs_ == slow.best_epochs_
    np.testing.assert_allclose(
        fast.module_.logit_shifts.numpy(), slow.module_.logit_shifts.numpy(), rtol=1e-6
    )
    x = torch.as_tensor(X)
    with torch.no_grad():
        packed_logits = fast.module_(x).numpy()
        sequential_logits = slow.module_(x).numpy()
    seed = derived_seed(0)
    for j in range(3):
        _, valid = FoldSplit(3, j, seed).indices(y)
        np.testing.assert_allclose(
            packed_logits[valid, j], sequential_logits[valid, j], rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            fast.bag_histories_[j][:, "valid_loss"],
            slow.bag_histories_[j][:, "valid_loss"],
            rtol=1e-4,
        )
    assert fast.threshold_ == pytest.approx(slow.threshold_, rel=1e-4)
    np.testing.assert_allclose(
        fast.predict_proba(X), slow.predict_proba(X), rtol=1e-4, atol=1e-6
    )


def test_a_packed_bag_pickles_and_partial_fits_as_one_ensemble(imbalanced):
    X, y = imbalanced
    clf = packed(max_epochs=2, bagging=3).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.threshold_ == clf.threshold_ and again.n_bags_ == 3
    before, epochs = clf.predict_proba(X), len(clf.history)
    clf.partial_fit(X, y)
    assert clf.n_bags_ == 3 and isinstance(clf.module_, PackedBag)
    assert len(clf.history) == epochs + 2 and len(clf.best_epochs_) == 3
    assert not np.allclose(clf.predict_proba(X), before)
    assert clf.logit_shift_ == pytest.approx(np.log(clf.pos_weight_), rel=0.05)


@pytest.mark.parametrize(
    "params",
    [
        dict(bagging__packed=False),
        dict(sampler="batch_balanced"),
        dict(weight_schedule="linear"),
        dict(module="realmlp", module__hidden_units=(8,)),
        dict(module__members=2),
    ],
    ids=["asked", "batch_balanced", "schedule", "realmlp", "members"],
)
def test_bags_that_cannot_be_packed_are_fitted_one_network_after_another(
    imbalanced, params
):
    X, y = imbalanced
    clf = packed(max_epochs=1, bagging=2, **params).fit(X, y)
    assert isinstance(clf.module_, BaggedModule) and not clf.bag_packed_


@pytest.mark.parametrize(
    "option, match",
    [({"bagging__size": 3}, "bagging__size is not an option"),
     ({"bagging__packed": "yes"}, "bagging__packed must be True or False")],
)  # fmt: skip
def test_a_bad_bagging_option_is_named(imbalanced, option, match):
    X, y = imbalanced
    with pytest.raises(ValueError, match=match):
        packed(**option).fit(X, y)
