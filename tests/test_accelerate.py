"""AcceleratedImbalancedNetClassifier on two real CPU processes (torchrun, gloo):
disjoint batches, the batch_balanced guarantee on each process, identical weights."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("accelerate")

WORKER = Path(__file__).with_name("accelerate_worker.py")
BATCH_SIZE = 32  # as in accelerate_worker.py


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_on_two_processes(tmp_path, sampler):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        str(WORKER), str(tmp_path), sampler,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(WORKER.parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [np.load(tmp_path / f"rank{rank}.npz") for rank in (0, 1)]


@pytest.mark.parametrize("sampler", ["none", "batch_balanced"])
def test_two_processes_train_one_model_on_disjoint_batches(tmp_path, sampler):
    ranks = _train_on_two_processes(tmp_path, sampler)
    assert all(int(r["num_processes"]) == 2 for r in ranks)
    n_train = 480  # 600 rows less the 20% validation split
    for epoch in np.unique(ranks[0]["epoch"]):
        # batch_balanced draws each negative once an epoch; positives are cycled
        rows = [(r["epoch"] == epoch) & (r["labels"] == 0) for r in ranks]
        if sampler == "none":
            rows = [r["epoch"] == epoch for r in ranks]
        seen = [set(r["ids"][chosen]) for r, chosen in zip(ranks, rows, strict=True)]
        # accelerate deals whole batches out; evening the counts up may repeat
        # at most one batch: anything more would be data cut twice or not at all
        assert len(seen[0] & seen[1]) <= BATCH_SIZE
        if sampler == "none":
            assert len(seen[0] | seen[1]) == n_train  # every training row, once
    if sampler == "batch_balanced":
        assert all(int(r["sampler_replicas"]) == 1 for r in ranks)  # no 2nd shard
        for r in ranks:
            per_batch = [
                r["labels"][r["batch"] == b].sum() for b in np.unique(r["batch"])
            ]
            assert min(per_batch) >= 1
    weights = [k for k in ranks[0].files if k.startswith("w_")]
    assert weights
    for key in weights + ["threshold", "best_epoch", "proba"]:
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])


def test_the_class_is_a_skimb_classifier_with_accelerate_placement():
    from accelerate import Accelerator
    from sklearn.base import clone

    from skimb import AcceleratedImbalancedNetClassifier, ImbalancedNetClassifier

    clf = AcceleratedImbalancedNetClassifier(
        accelerator=Accelerator(cpu=True), sampler="batch_balanced"
    )
    assert isinstance(clf, ImbalancedNetClassifier)
    assert clf.device is None and clone(clf).sampler == "batch_balanced"


def test_a_fitted_accelerated_net_pickles():
    import pickle
    import warnings

    from accelerate import Accelerator

    from skimb import AcceleratedImbalancedNetClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] > 1).astype(int)
    clf = AcceleratedImbalancedNetClassifier(
        accelerator=Accelerator(cpu=True), max_epochs=2, verbose=0, random_state=0
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch: "device was not specified"
        loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
