"""Resumable fits (skimb.checkpoints): a resumed fit ends with the model an
uninterrupted one gives, bit for bit, on the CPU with ``random_state`` set.

The kill tests run each fit in a real process (forked from a forkserver that has
imported torch and skimb once, ``tests/checkpoint_worker.py``), SIGKILL it at
random moments or while it writes its checkpoint, check that the checkpoint left
behind reads, and resume it in a new process.
"""

import multiprocessing
import os
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification
from skorch.callbacks import Callback

from skimb import ImbalancedNetClassifier
from skimb.checkpoints import (
    CHECKPOINT_FILE,
    CheckpointMismatch,
    fit_fingerprint,
    read_checkpoint,
)
from skimb.data import write_sqlite
from tests.checkpoint_worker import checkpoint_files, kill, start_fit


class Interrupt(Callback):
    """Ctrl-C (a KeyboardInterrupt) after the ``at``-th epoch any network of the
    fit begins; set on the class, so that the parameters of the interrupted and of
    the resumed fit are the same. Counts the epochs begun."""

    at = None
    begun = 0

    def on_epoch_begin(self, net, **kwargs):
        Interrupt.begun += 1

    def on_epoch_end(self, net, **kwargs):
        if Interrupt.at is not None and Interrupt.begun == Interrupt.at:
            raise KeyboardInterrupt


@pytest.fixture
def interrupt():
    Interrupt.at, Interrupt.begun = None, 0
    yield Interrupt
    Interrupt.at, Interrupt.begun = None, 0


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        1500, n_features=8, weights=[0.93], flip_y=0.02, random_state=3
    )
    return X.astype(np.float32), y


def _net(**params):
    defaults = dict(
        random_state=0, verbose=0, max_epochs=8, callbacks=[("stop", Interrupt())]
    )
    return ImbalancedNetClassifier(**{**defaults, **params})


def _interrupted_then_resumed(data, folder, at, **params):
    """``(uninterrupted, resumed)`` fits, the resumed one after an interruption at
    its ``at``-th epoch begun, and how many epochs the resumed fit trained."""
    X, y = data
    reference = _net(**params).fit(X, y)
    Interrupt.at, Interrupt.begun = at, 0
    with pytest.warns(UserWarning) if params.get("bagging") else _nothing():
        interrupted = _net(checkpoint=folder, **params).fit(X, y)
    assert interrupted.fit_interrupted_
    Interrupt.at, Interrupt.begun = None, 0
    resumed = _net(checkpoint=folder, **params).fit(X, y)
    return reference, resumed, Interrupt.begun


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _assert_same_model(reference, resumed, X):
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))
    assert resumed.best_epoch_ == reference.best_epoch_
    assert resumed.threshold_ == reference.threshold_
    assert len(resumed.history) == len(reference.history)


@pytest.mark.parametrize(
    "params",
    [
        dict(bagging=None),
        dict(bagging=None, sampler="batch_balanced", weight_schedule="plateau"),
        dict(bagging=None, module__dropout=0.2),  # dropout draws from torch's RNG
    ],
    ids=["shuffle", "batch_balanced+plateau", "dropout"],
)
def test_a_resumed_fit_ends_with_the_uninterrupted_model(
    data, tmp_path, interrupt, params
):
    reference, resumed, trained = _interrupted_then_resumed(
        data, tmp_path / "ck", at=3, **params
    )
    _assert_same_model(reference, resumed, data[0])
    assert trained == len(reference.history) - 3  # the rest, not all again


def test_a_bag_resumes_its_finished_networks_and_the_interrupted_one(
    data, tmp_path, interrupt
):
    # sequential: interrupted in the second network's fifth epoch
    reference, resumed, trained = _interrupted_then_resumed(
        data, tmp_path / "ck", at=8 + 5, bagging=3, bagging__packed=False
    )
    _assert_same_model(reference, resumed, data[0])
    assert resumed.best_epochs_ == reference.best_epochs_
    assert sorted(os.listdir(tmp_path / "ck")) == ["member-0", "member-1", "member-2"]
    assert trained == sum(len(h) for h in reference.bag_histories_) - 8 - 5


class Computed(Callback):
    """How many members the training batches of each epoch (``len(history)``)
    compute, over every fit that records (class-level, so that the interrupted and
    the resumed fit have the same parameters)."""

    per_epoch = {}

    def on_batch_begin(self, net, training=False, **kwargs):
        members = getattr(net.module_, "training_members", None)
        if training:
            k = net.module_.members if members is None else len(members)
            Computed.per_epoch.setdefault(len(net.history), set()).add(k)


def test_a_packed_bag_resumed_after_members_stopped_trains_the_others_alone(
    data, tmp_path, interrupt
):
    # The members whose patience ran out before the interruption are still left
    # out of the resumed fit's steps (read from the restored selection state).
    params = dict(
        bagging=5,
        max_epochs=40,
        early_stopping__patience=2,
        lr=0.02,
        callbacks=[("stop", Interrupt()), ("computed", Computed())],
    )
    reference = _net(**params).fit(*data)
    lengths = sorted(len(h) for h in reference.bag_histories_)
    at = lengths[1] + 1  # an epoch after the second member stopped
    assert at < len(reference.history), lengths
    Computed.per_epoch = {}
    reference, resumed, trained = _interrupted_then_resumed(
        data, tmp_path / "ck", at=at, **params
    )
    _assert_same_model(reference, resumed, data[0])
    assert resumed.best_epochs_ == reference.best_epochs_
    assert trained == len(reference.history) - at
    # every epoch computed as many members in the uninterrupted fit as in the
    # interrupted and the resumed one; the resumed one began with fewer than five
    assert all(len(counts) == 1 for counts in Computed.per_epoch.values())
    assert max(Computed.per_epoch[at + 1]) < 5, Computed.per_epoch


def test_a_packed_bag_resumes_every_members_selection(data, tmp_path, interrupt):
    # one fit, one checkpoint, holding each member's best score, weights and misses
    reference, resumed, trained = _interrupted_then_resumed(
        data, tmp_path / "ck", at=5, bagging=3, max_epochs=12, bagging__packed=True
    )
    _assert_same_model(reference, resumed, data[0])
    assert resumed.bag_packed_ and resumed.best_epochs_ == reference.best_epochs_
    assert os.listdir(tmp_path / "ck") == [CHECKPOINT_FILE]
    assert trained == len(reference.history) - 5
    saved = read_checkpoint(tmp_path / "ck" / CHECKPOINT_FILE)["callbacks"]
    selection = {name for name, _ in saved["early_stopping"].items()}
    assert {"best_epochs_", "best_scores_", "misses_", "best_weights_"} <= selection


def test_without_the_restored_random_streams_the_resumed_fit_would_differ(
    data, tmp_path, interrupt, monkeypatch
):
    """The test above can fail: resuming without torch's RNG and the sampler's
    epoch gives another model."""
    import skimb.checkpoints

    monkeypatch.setattr(skimb.checkpoints, "_restore_streams", lambda net, s: None)
    reference, resumed, _ = _interrupted_then_resumed(
        data, tmp_path / "ck", at=3, bagging=None, sampler="batch_balanced"
    )
    assert not np.array_equal(
        resumed.predict_proba(data[0]), reference.predict_proba(data[0])
    )


def test_a_fit_stopped_by_patience_resumes_as_finished(data, tmp_path, interrupt):
    X, y = data
    params = dict(bagging=None, max_epochs=60, early_stopping__patience=2)
    first = _net(checkpoint=tmp_path, **params).fit(X, y)
    assert len(first.history) < 60  # patience ended it
    assert read_checkpoint(tmp_path / CHECKPOINT_FILE)["stopped"]
    Interrupt.begun = 0
    again = _net(checkpoint=tmp_path, **params).fit(X, y)
    assert Interrupt.begun == 0  # nothing trained again
    _assert_same_model(first, again, X)


@pytest.mark.parametrize(
    "change",
    [dict(lr=0.01), dict(max_epochs=9), dict(rows=slice(0, 1400))],
    ids=["lr", "max_epochs", "data"],
)
def test_a_checkpoint_of_other_data_or_parameters_is_refused(
    data, tmp_path, interrupt, change
):
    X, y = data
    _net(checkpoint=tmp_path, bagging=None, max_epochs=2).fit(X, y)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    rows = change.pop("rows", slice(None))
    params = {"bagging": None, "max_epochs": 2, **change}
    with pytest.raises(CheckpointMismatch, match=str(tmp_path)):
        _net(checkpoint=tmp_path, **params).fit(X[rows], y[rows])
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before  # left as it was


def test_the_fingerprint_ignores_what_only_changes_the_output(data):
    X, y = data
    quiet, loud = _net(), _net(verbose=1, progress=False, checkpoint="somewhere")
    assert fit_fingerprint(quiet, X, y) == fit_fingerprint(loud, X, y)
    assert fit_fingerprint(quiet, X, y) != fit_fingerprint(_net(lr=0.5), X, y)
    other = np.array(X)
    other[0, 0] += 1
    assert fit_fingerprint(quiet, X, y) != fit_fingerprint(quiet, other, y)


def test_bad_checkpoint_paths_name_the_path_and_create_nothing(data, tmp_path):
    X, y = data
    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _net(checkpoint=missing).fit(X, y)
    assert not (tmp_path / "no").exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        _net(checkpoint=a_file).fit(X, y)
    with pytest.raises(ValueError, match="checkpoint must be None or a folder"):
        _net(checkpoint=3).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        _net(checkpoint=tmp_path, warm_start=True).fit(X, y)


def test_an_unreadable_checkpoint_names_the_file(data, tmp_path):
    X, y = data
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read.*delete it"):
        _net(checkpoint=tmp_path, bagging=None).fit(X, y)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == b"not a checkpoint"


def test_partial_fit_neither_reads_nor_writes_the_checkpoint(data, tmp_path):
    X, y = data
    clf = _net(checkpoint=tmp_path, bagging=None, max_epochs=2).fit(X, y)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    clf.partial_fit(X, y)
    assert len(clf.history) == 4  # went on from the fitted model
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before
    assert pickle.loads(pickle.dumps(clf)).predict_proba(X[:5]).shape == (5, 2)


# -- real processes, killed ------------------------------------------------------
pytestmark_fork = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="needs the forkserver start method",
)


@pytest.fixture(scope="module")
def processes():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.checkpoint_worker", "skimb", "torch"])
    return context


@pytest.fixture(scope="module")
def kill_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill_data")
    X, y = make_classification(4000, n_features=16, weights=[0.95], random_state=0)
    X = X.astype(np.float32)
    np.savez(folder / "data.npz", X=X, y=y)
    write_sqlite(folder / "data.db", X, y)
    return {"arrays": folder / "data.npz", "bagged": folder / "data.npz"} | {
        "sqlite": folder / "data.db"
    }


@pytestmark_fork
@pytest.mark.parametrize(
    "kind, kills",
    [
        ("arrays", ((2, 0.05), (7, 0.0), "write")),
        ("sqlite", ((4, 0.02), "write")),
        ("bagged", ((3, 0.01), (8, 0.03))),  # a packed bag: one fit of 12 epochs
    ],
)
def test_killed_fits_resume_to_the_uninterrupted_model(
    processes, kill_data, tmp_path, kind, kills
):
    data = kill_data[kind]
    reference = start_fit(processes, kind, data, "-", tmp_path / "reference.npz")
    reference.join()
    assert reference.exitcode == 0
    expected = np.load(tmp_path / "reference.npz")
    killed_with_epochs = 0
    for trial, when in enumerate(kills):
        folder, out = tmp_path / f"ck{trial}", tmp_path / f"out{trial}.npz"
        process = start_fit(processes, kind, data, folder, out)
        if when == "write":
            killed = kill(process, folder)
        else:
            killed = kill(process, folder, *when)
        for path in checkpoint_files(folder):  # never half a checkpoint
            state = read_checkpoint(path)
            killed_with_epochs += killed and len(state["history"]) > 0
        resumed = start_fit(processes, kind, data, folder, out)
        resumed.join()
        assert resumed.exitcode == 0
        result = np.load(out)
        np.testing.assert_array_equal(result["proba"], expected["proba"])
        assert result["best_epoch"] == expected["best_epoch"]
        assert result["threshold"] == expected["threshold"]
    assert killed_with_epochs > 0  # some kill left a checkpoint to resume from
