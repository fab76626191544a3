"""Finished epochs' batch records stored by column (skimb.history): the same list of
dicts to every reader, a fraction of the memory."""

import copy
import json
import pickle
import sys

import numpy as np
import pytest
from skorch.callbacks import Callback
from skorch.history import History

from skimb.history import BatchColumns, close_epoch
from tests.conftest import quiet


def skorch_like_batches(n_train=5, n_valid=2, seed=0):
    """Batch records as skorch writes them: training then validation batches."""
    rng = np.random.default_rng(seed)
    train = [
        {"train_loss": float(rng.random()), "train_batch_size": 512}
        for _ in range(n_train)
    ]
    valid = [
        {"valid_loss": float(rng.random()), "valid_batch_size": int(b)}
        for b in rng.integers(1, 600, n_valid)
    ]
    return train + valid


def test_reads_as_the_list_it_replaced():
    batches = skorch_like_batches() + [
        {"note": "text", "array": np.float32(1.5), "flag": True, "big": 2**70},
        {"note": None, "flag": False, "big": 3},
        {"train_loss": 0.125, "train_batch_size": 3},  # keys in scattered batches
    ]
    stored = BatchColumns(copy.deepcopy(batches))
    assert isinstance(stored, list)
    assert len(stored) == len(batches) and bool(stored)
    assert list(stored) == batches and stored == batches and batches == stored
    assert not stored != batches
    assert stored.to_list() == batches and stored.copy() == batches
    for i in range(-len(batches), len(batches)):
        assert stored[i] == batches[i]
    for part in (slice(None), slice(2, 5), slice(None, None, -2), slice(-3, None)):
        assert stored[part] == batches[part] and type(stored[part]) is list
    assert list(reversed(stored)) == batches[::-1]
    assert batches[3] in stored and {"x": 1} not in stored
    assert stored.index(batches[4]) == 4 and stored.count(batches[0]) == 1
    assert stored + [{}] == batches + [{}] and [{}] + stored == [{}] + batches
    assert stored * 2 == batches * 2 and 2 * stored == 2 * batches
    assert repr(stored) == repr(batches)
    # values come back with their own types: Python float / int / bool, and any
    # other object as it was
    assert [type(v) for v in stored[-3].values()] == [str, np.float32, bool, int]
    assert list(stored[-3]) == list(batches[-3])  # key order too
    with pytest.raises(IndexError):
        stored[len(batches)]
    with pytest.raises(IndexError):
        stored[-len(batches) - 1]


def test_skorch_history_access_json_and_pickle_see_the_same_records():
    epochs = [skorch_like_batches(seed=s) for s in range(3)]
    plain, stored = History(), History()
    for batches in epochs:
        for history in (plain, stored):
            history.new_epoch()
            history.record("epoch", len(history))
            for batch in batches:
                history.new_batch()
                for key, value in batch.items():
                    history.record_batch(key, value)
        close_epoch(stored)
    assert all(type(row["batches"]) is BatchColumns for row in stored)
    for index in [
        (-1, "batches"),
        (-1, "batches", -1),
        (-1, "batches", slice(None), "train_loss"),
        (slice(None), "batches", slice(None), ("valid_loss", "valid_batch_size")),
        (slice(None), "batches", slice(1, 3), ["train_loss"]),
        (0, "batches", slice(None), "train_batch_size"),
    ]:
        assert stored[index] == plain[index]
    with pytest.raises(KeyError):
        stored[-1, "batches", :, "no_such_key"]
    assert json.dumps(stored.to_list()) == json.dumps(plain.to_list())
    assert json.dumps(stored.to_list(), indent=1) == json.dumps(
        plain.to_list(), indent=1
    )
    for restored in (pickle.loads(pickle.dumps(stored)), copy.deepcopy(stored)):
        assert type(restored[0]["batches"]) is BatchColumns
        assert restored.to_list() == plain.to_list()


def test_read_only_and_smaller():
    batches = skorch_like_batches(n_train=2_000, n_valid=500)
    stored = BatchColumns(batches)
    for change in (
        lambda b: b.append({}),
        lambda b: b.extend([{}]),
        lambda b: b.pop(),
        lambda b: b.clear(),
        lambda b: b.__setitem__(0, {}),
        lambda b: b.__delitem__(0),
        lambda b: b.sort(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change(stored)
    stored[0]["train_loss"] = -1.0  # a fresh dict: the record is unchanged
    assert stored[0] == batches[0]
    as_dicts = sys.getsizeof(batches) + sum(
        sys.getsizeof(b) + sum(sys.getsizeof(v) for v in b.values()) for b in batches
    )
    # two 8-byte values a batch (each key's batches are one run: no masks), vs
    # ~250 bytes a dict
    assert sys.getsizeof(stored) < 20 * len(batches) < as_dicts / 10


def test_close_epoch_leaves_what_it_cannot_store_as_it_is():
    history = History()
    close_epoch(history)  # no epoch yet
    history.new_epoch()
    history[-1]["batches"] = [{"a": 1, "b": 2}, {"b": 3, "a": 4}]  # key order differs
    close_epoch(history)
    assert type(history[-1]["batches"]) is list
    history.new_epoch()
    history[-1]["batches"] = [{"a": 1}, ("not", "a", "dict")]
    close_epoch(history)
    assert type(history[-1]["batches"]) is list
    close_epoch([{"epoch": 1}])  # no batches key: nothing to do
    close_epoch(None)


class KeepBatches(Callback):
    """Copies each epoch's batch records as the epoch's callbacks see them."""

    def on_epoch_end(self, net, **kwargs):
        self.seen_ = getattr(self, "seen_", []) + [list(net.history[-1]["batches"])]


def test_fit_stores_every_finished_epoch_by_column_with_the_recorded_values():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=600) > 1.5).astype(int)
    keep = KeepBatches()
    clf = quiet(max_epochs=3, batch_size=64, callbacks=[("keep", keep)]).fit(X, y)
    assert all(type(row["batches"]) is BatchColumns for row in clf.history)
    assert [row["batches"] for row in clf.history] == keep.seen_
    assert clf.history[-1, "batches", 0]["train_batch_size"] == 64
    # the epoch's train_loss was averaged from the same records
    losses = clf.history[-1, "batches", :, ("train_loss", "train_batch_size")]
    loss, size = np.array(losses).T
    assert np.isclose(clf.history[-1, "train_loss"], np.average(loss, weights=size))
    clf.partial_fit(X, y)  # continues the history: earlier epochs stay as they are
    assert len(clf.history) == 6
    assert all(type(row["batches"]) is BatchColumns for row in clf.history)
