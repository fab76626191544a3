"""Cross-fit bagging (skimb.bagging): the rule, the folds, and bagged fits checked
against hand computations from the networks they hold."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch.dataset import ValidSplit

from skimb import ImbalancedNetClassifier
from skimb.bagging import AUTO_MAX_ROWS, BaggedModule, FoldSplit, n_bags
from skimb.data import SQLiteDataset, write_sqlite
from skimb.packing.module import PackedBag
from skimb.prior import odds_distortion
from skimb.thresholds import f1_optimal_threshold
from tests.conftest import RecordBatches


def bagged(**params):
    params = {"max_epochs": 4, "verbose": 0, "random_state": 0, "lr": 0.01, **params}
    return ImbalancedNetClassifier(**params)


def member_proba(clf, X, j, extra_shift=0.0):
    """Network ``j``'s prior-corrected probabilities, computed by hand in float64
    (its inputs scaled once, by its own scaler; ``extra_shift``: the correction of
    training continued after the bag, on top of its own)."""
    bag = clf.module_
    x = torch.as_tensor(np.asarray(X, np.float32))
    with torch.no_grad():
        if isinstance(bag, PackedBag):  # one module, member j its column j
            if bag.scaler is not None:
                x = bag.scaler.transform(x)
            logits = bag.network(x)[:, j : j + 1].double()
        else:
            if bag.scalers[j] is not None:
                x = bag.scalers[j].transform(x)
            logits = bag.members[j](x).reshape(len(x), -1).double()
    shift = float(bag.logit_shifts[j]) + extra_shift
    return (1 / (1 + np.exp(-(logits.numpy() - shift)))).mean(axis=1)


def test_auto_bags_small_data_with_the_default_split_only():
    default = ValidSplit(5, stratified=True)
    assert n_bags("auto", default, 200) == 5
    assert n_bags("auto", default, AUTO_MAX_ROWS) == 5
    assert n_bags("auto", default, AUTO_MAX_ROWS + 1) == 1
    assert n_bags("auto", ValidSplit(10, stratified=True), 200) == 10
    assert n_bags("auto", ValidSplit(0.2, stratified=True), 200) == 1
    assert n_bags("auto", ValidSplit(5, stratified=False), 200) == 1
    assert n_bags("auto", None, 200) == 1
    assert n_bags("auto", default, 200, auto=False) == 1
    assert n_bags(3, None, 10**7) == 3 and n_bags(True, None, 10) == 5
    assert n_bags(None, default, 200) == n_bags(False, default, 200) == 1
    assert n_bags(1, default, 200) == 1


@pytest.mark.parametrize("bad", ["five", 0, -2, 2.5])
def test_a_bad_bagging_value_is_named(imbalanced, bad):
    X, y = imbalanced
    with pytest.raises(ValueError, match=f"bagging must be .*got {bad!r}"):
        bagged(bagging=bad).fit(X, y)


def test_fold_split_validates_every_row_once_stratified():
    y = np.array([0] * 90 + [1] * 10)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(len(y))]
    valid = [FoldSplit(5, j, seed=3).indices(y)[1] for j in range(5)]
    assert sorted(np.concatenate(valid).tolist()) == list(range(len(y)))
    assert [int(y[v].sum()) for v in valid] == [2] * 5
    for j in range(5):
        train, v = FoldSplit(5, j, seed=3).indices(y)
        assert not set(train) & set(v) and len(train) + len(v) == len(y)
    # another seed, another partition
    assert not np.array_equal(valid[0], FoldSplit(5, 0, seed=4).indices(y)[1])


def test_defaults_bag_small_data_and_predict_the_mean_of_the_networks(imbalanced):
    X, y = imbalanced
    clf = bagged().fit(X, y)
    assert clf.n_bags_ == 5 and isinstance(clf.module_, (BaggedModule, PackedBag))
    assert len(clf.best_epochs_) == 5 and len(clf.bag_histories_) == 5
    assert all(1 <= e <= 4 for e in clf.best_epochs_)
    assert clf.best_epoch_ == clf.best_epochs_[-1] and clf.logit_shift_ == 0.0
    expected = np.mean([member_proba(clf, X, j) for j in range(5)], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=1e-5)
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[(expected > clf.threshold_).astype(int)]
    )


def test_each_network_corrects_the_prior_of_its_own_training_folds(imbalanced):
    X, y = imbalanced
    keep = np.ones(len(y), bool)
    keep[np.flatnonzero(y == 1)[:2]] = False  # 73 positives: the folds differ
    X, y = X[keep], y[keep]
    clf = bagged(max_epochs=2).fit(X, y)
    shifts = clf.module_.logit_shifts.double().numpy()
    # pos_weight="balanced": each network's shift is log(n_neg / n_pos) of the
    # folds it trained on
    expected = []
    for j in range(5):
        train, _ = FoldSplit(5, j, _fold_seed(0)).indices(y)
        n_pos = y[train].sum()
        expected.append(odds_distortion((len(train) - n_pos) / n_pos))
    np.testing.assert_allclose(shifts, expected, rtol=1e-6)
    assert len(set(np.round(shifts, 6))) > 1  # the folds differ: one shift won't do


def _fold_seed(random_state):
    """The partition's seed, as fit_bagged derives it from random_state."""
    return int(np.random.SeedSequence(random_state).generate_state(1)[0])


def test_threshold_is_tuned_on_the_out_of_fold_predictions(imbalanced):
    X, y = imbalanced
    clf = bagged(max_epochs=3).fit(X, y)
    fold_seed = _fold_seed(0)
    targets, proba = [], []
    for j in range(5):
        _, valid = FoldSplit(5, j, fold_seed).indices(y)
        proba.append(member_proba(clf, X[valid], j))
        targets.append(y[valid])
    expected = f1_optimal_threshold(np.concatenate(targets), np.concatenate(proba))
    assert clf.threshold_ == pytest.approx(expected, rel=1e-5)
    # and not the threshold of any one network's validation fold alone
    alone = [f1_optimal_threshold(t, p) for t, p in zip(targets, proba, strict=True)]
    assert all(abs(clf.threshold_ - a) > 1e-9 for a in alone)


def test_a_fixed_threshold_is_kept(imbalanced):
    X, y = imbalanced
    assert bagged(max_epochs=1, threshold=0.3).fit(X, y).threshold_ == 0.3


def test_bagging_is_reproducible_pickles_and_clones(imbalanced):
    X, y = imbalanced
    a = bagged(max_epochs=2).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))
    assert c.threshold_ == a.threshold_ and c.n_bags_ == 5


def test_refit_without_bagging_forgets_the_bag(imbalanced):
    X, y = imbalanced
    clf = bagged(max_epochs=1).fit(X, y)
    clf.set_params(bagging=None).fit(X, y)
    assert clf.n_bags_ == 1 and not isinstance(clf.module_, BaggedModule)
    assert not hasattr(clf, "best_epochs_") and not hasattr(clf, "bag_histories_")


def test_no_bagging_on_large_data_without_split_or_for_a_module_instance(imbalanced):
    X, y = imbalanced
    assert bagged(max_epochs=1, train_split=None).fit(X, y).n_bags_ == 1
    module = torch.nn.Linear(X.shape[1], 1)
    clf = bagged(max_epochs=1, module=module).fit(X, y)
    assert clf.n_bags_ == 1 and clf.module_ is module
    big = np.tile(X, (AUTO_MAX_ROWS // len(X) + 1, 1))
    big_y = np.tile(y, AUTO_MAX_ROWS // len(y) + 1)
    assert bagged(max_epochs=1, batch_size=2048).fit(big, big_y).n_bags_ == 1


def test_an_int_bags_without_a_train_split(imbalanced):
    X, y = imbalanced
    clf = bagged(max_epochs=1, bagging=3, train_split=None).fit(X, y)
    assert clf.n_bags_ == 3 and clf.module_.n_bags == 3


def test_user_callbacks_see_every_network(imbalanced):
    X, y = imbalanced
    record = RecordBatches()
    bagged(max_epochs=1, bagging=2, callbacks=[("record", record)]).fit(X, y)
    # the instance given ends with the state of the last network's fit
    assert len(record.batches_) > 0


def test_grid_search_and_cross_val_score_on_the_bagged_defaults(imbalanced):
    X, y = imbalanced
    search = GridSearchCV(
        bagged(max_epochs=2),
        {"pos_weight": ["balanced", None]},
        cv=2,
        scoring="average_precision",
        error_score="raise",
    ).fit(X, y)
    assert search.best_estimator_.n_bags_ == 5
    scores = cross_val_score(bagged(max_epochs=2), X, y, cv=2, scoring="f1")
    assert np.all(scores > 0.3)


def test_sample_weight_reaches_every_network(imbalanced):
    X, y = imbalanced
    plain = bagged(max_epochs=2, bagging=2).fit(X, y)
    doubled = bagged(max_epochs=2, bagging=2).fit(
        X, y, sample_weight=np.full(len(y), 2)
    )
    # weights are normalised to mean 1: uniform weights change nothing
    np.testing.assert_allclose(
        plain.predict_proba(X), doubled.predict_proba(X), rtol=1e-5
    )
    weights = np.where(y == 1, 5.0, 1.0)
    weighted = bagged(max_epochs=2, bagging=2).fit(X, y, sample_weight=weights)
    assert weighted.predict_proba(X)[y == 1, 1].mean() > (
        plain.predict_proba(X)[y == 1, 1].mean()
    )


def test_a_sqlite_dataset_bags_as_the_arrays_do(tmp_path, imbalanced):
    X, y = imbalanced
    path = tmp_path / "bag.db"
    write_sqlite(path, X, y)
    # both sequential: a Dataset's bag is (packing holds in-memory rows only)
    params = dict(max_epochs=2, sampler="block_shuffle", bagging__packed=False)
    from_db = bagged(**params).fit(SQLiteDataset(path), None)
    from_arrays = bagged(**params).fit(X.astype(np.float32), y)
    assert from_db.n_bags_ == from_arrays.n_bags_ == 5
    np.testing.assert_allclose(
        from_db.predict_proba(SQLiteDataset(path)),
        from_arrays.predict_proba(X),
        rtol=1e-4,
        atol=1e-6,
    )
    assert from_db.threshold_ == pytest.approx(from_arrays.threshold_, rel=1e-4)


def test_the_accelerated_classifier_refuses_an_int_bagging(imbalanced):
    pytest.importorskip("accelerate")
    from accelerate import Accelerator

    from skimb import AcceleratedImbalancedNetClassifier

    X, y = imbalanced
    clf = AcceleratedImbalancedNetClassifier(
        accelerator=Accelerator(cpu=True), bagging=3, verbose=0
    )
    with pytest.raises(ValueError, match="bagging=3 is not supported"):
        clf.fit(X, y)


def test_partial_fit_trains_the_bag_on_as_one_ensemble(imbalanced):
    X, y = imbalanced
    clf = bagged(max_epochs=2, bagging=2).fit(X, y)
    before, epochs = clf.predict_proba(X), len(clf.history)
    clf.partial_fit(X, y)
    assert clf.n_bags_ == 2 and isinstance(clf.module_, (BaggedModule, PackedBag))
    assert len(clf.history) == epochs + 2 and len(clf.best_epochs_) == 2
    assert not np.allclose(clf.predict_proba(X), before)
    # the continued training's weight is corrected on top of the bag's own shifts
    assert clf.logit_shift_ == pytest.approx(np.log(clf.pos_weight_), rel=0.05)


def test_a_bag_of_ensembles_averages_every_member_of_every_network(imbalanced):
    pytest.importorskip("tabm")
    X, y = imbalanced
    clf = bagged(
        module="tabm", module__k=4, module__d_block=16, max_epochs=1, bagging=3
    ).fit(X, y)
    x = torch.as_tensor(X[:50], dtype=torch.float32)
    with torch.no_grad():
        assert clf.module_(x).shape == (50, 3 * 4)
    expected = np.mean([member_proba(clf, X[:50], j) for j in range(3)], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X[:50])[:, 1], expected, rtol=1e-5)


def test_partial_fit_after_bagging_scales_the_inputs_once():
    # Raw scales: scaling them twice (a new scaler in front of the networks' own)
    # feeds every network inputs it never saw, and the ranking collapses.
    from sklearn.datasets import make_classification
    from sklearn.metrics import average_precision_score

    X, y = make_classification(
        4000, n_features=8, n_informative=5, weights=[0.9], random_state=0
    )
    X = X * 100 + 500
    X_train, y_train, X_test, y_test = X[:3000], y[:3000], X[3000:], y[3000:]
    clf = ImbalancedNetClassifier(random_state=0, verbose=0, max_epochs=30)
    clf.fit(X_train, y_train)
    assert clf.n_bags_ == 5
    fitted_ap = average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
    clf.partial_fit(X_train, y_train)
    assert clf.scaler_ is None  # each network scales its own inputs, once
    continued = clf.predict_proba(X_test)[:, 1]
    expected = np.mean(
        [member_proba(clf, X_test, j, clf.logit_shift_) for j in range(5)], axis=0
    )
    np.testing.assert_allclose(continued, expected, rtol=1e-4, atol=1e-6)
    assert average_precision_score(y_test, continued) > fitted_ap - 0.05
