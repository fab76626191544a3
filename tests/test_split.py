"""The internal validation split: skorch's ValidSplit rows, without its memory."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import StratifiedKFold
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from torch.utils.data import Subset

from skimb.data import SQLiteDataset, index, write_sqlite
from skimb.data.split import first_stratified_fold, light_valid_split
from tests.conftest import quiet


def skorch_split(y, cv):
    dataset = torch.utils.data.TensorDataset(torch.zeros(len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error"
        )  # the light split must not stand in for a warning
        train, valid = ValidSplit(cv, stratified=True)(dataset, y)
    return np.asarray(train.indices), np.asarray(valid.indices)


labels = st.lists(st.booleans(), min_size=2, max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    labels=labels,
    cv=st.integers(2, 7),
    chunk=st.sampled_from([1, 3, 64, 1 << 20]),
    order=st.sampled_from(["as drawn", "sorted", "reversed"]),
    dtype=st.sampled_from([np.float32, np.int8, np.uint8, bool, np.int64, np.float64]),
)
def test_same_rows_as_skorch_valid_split(labels, cv, chunk, order, dtype):
    y = np.asarray(labels, dtype=dtype)
    if order != "as drawn":
        y = np.sort(y) if order == "sorted" else np.sort(y)[::-1].copy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index, "SCAN_ROWS", chunk)  # chunk edges inside the data
        rows = light_valid_split(ValidSplit(cv, stratified=True), y)
    if min(np.count_nonzero(y), np.count_nonzero(y == 0)) < cv:
        assert rows is None  # scikit-learn warns or raises: skorch's own split runs
        return
    train, valid = rows
    expected_train, expected_valid = skorch_split(y, cv)
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(valid, expected_valid)
    assert train.dtype == valid.dtype == np.int32


def test_fold_of_a_large_split_matches_stratified_kfold():
    y = np.random.default_rng(0).random(300_000) < 0.01
    expected = next(StratifiedKFold(5).split(np.zeros(y.size), y))
    for ours, theirs in zip(first_stratified_fold(y, 5), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "train_split, y",
    [
        (ValidSplit(0.2, stratified=True), [0, 1] * 20),  # a fraction: shuffled
        (ValidSplit(5), [0, 1] * 20),  # not stratified
        (ValidSplit(StratifiedKFold(5)), [0, 1] * 20),  # a splitter object
        (ValidSplit(5, stratified=True), [0] * 36 + [1] * 4),  # 4 positives < 5 folds
        (ValidSplit(5, stratified=True), [0, 1, 2] * 20),  # not 0/1
        (ValidSplit(5, stratified=True), ["a", "b"] * 20),
        # a table's int8 labels: counted, read as flags only when they are 0/1
        (ValidSplit(5, stratified=True), np.array([0, 1, 2] * 20, np.int8)),
        (ValidSplit(5, stratified=True), np.array([-1, 1] * 20, np.int8)),
        (ValidSplit(5, stratified=True), np.array([0] * 36 + [1] * 4, np.int8)),
        (None, [0, 1] * 20),
    ],
)
def test_anything_else_is_left_to_skorch(train_split, y):
    assert light_valid_split(train_split, np.asarray(y)) is None


def test_a_subclass_of_valid_split_is_left_to_skorch():
    class Mine(ValidSplit):
        pass

    assert light_valid_split(Mine(5, stratified=True), np.asarray([0, 1] * 20)) is None


class RecordSplit(Callback):
    def on_train_begin(self, net, **kwargs):
        self.rows_ = []

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        valid = dataset_valid
        while not isinstance(valid, Subset):  # under ReadOnce / PassingThrough
            valid = valid.dataset
        self.rows_.append((len(dataset_train), np.asarray(valid.indices)))


def test_fit_splits_without_stratified_kfold(tmp_path, rare, monkeypatch):
    """A fit of a SQLiteDataset and of arrays uses the light split, and both get
    skorch's validation rows."""
    X, y = rare
    write_sqlite(tmp_path / "rare.db", X, y)

    def refuse(*args, **kwargs):
        raise AssertionError("StratifiedKFold ran")

    expected_train, expected_valid = skorch_split((y == 1).astype(np.float32), 5)
    monkeypatch.setattr(StratifiedKFold, "_make_test_folds", refuse)
    for data in (SQLiteDataset(tmp_path / "rare.db"), X):
        record = RecordSplit()
        clf = quiet(max_epochs=1, callbacks=[("record", record)])
        clf.fit(data, None if data is not X else y)
        ((n_train, valid),) = record.rows_
        assert n_train == len(expected_train)
        np.testing.assert_array_equal(valid, expected_valid)
