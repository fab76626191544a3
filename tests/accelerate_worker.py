"""Launched by tests/test_accelerate.py, once per process, with
``torchrun --nproc_per_node 2 tests/accelerate_worker.py OUT SAMPLER``: trains an
AcceleratedImbalancedNetClassifier on CPU processes (gloo) and saves, per process,
the rows of every training batch it saw and its final weights."""

import sys

import numpy as np
from accelerate import Accelerator
from skorch.callbacks import Callback

from skimb import AcceleratedImbalancedNetClassifier


class SeenBatches(Callback):
    """The row ids (feature 0, before scaling) and labels of each training batch."""

    def initialize(self):
        self.batches_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            X, y = batch
            self.batches_.append(
                (len(net.history), X[:, 0].cpu().numpy(), y.cpu().numpy())
            )


def main(out, sampler):
    accelerator = Accelerator(cpu=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    X[:, 0] = np.arange(len(X))  # row ids ride along as a feature
    y = (X[:, 1] + 0.3 * rng.normal(size=len(X)) > 1.4).astype(int)  # ~9% positive
    seen = SeenBatches()
    clf = AcceleratedImbalancedNetClassifier(
        accelerator=accelerator,
        sampler=None if sampler == "none" else sampler,
        batch_size=32,
        max_epochs=4,
        verbose=0,
        callbacks=[("seen", seen)],
    ).fit(X, y)
    epochs = np.concatenate([np.full(len(ids), e) for e, ids, _ in seen.batches_])
    batch = np.concatenate([np.full(len(ids), i) for i, (_, ids, _) in
                            enumerate(seen.batches_)])  # fmt: skip
    sampler_ = clf.sampler_
    np.savez(
        f"{out}/rank{accelerator.process_index}.npz",
        epoch=epochs,
        batch=batch,
        ids=np.concatenate([ids for _, ids, _ in seen.batches_]).astype(int),
        labels=np.concatenate([lab for _, _, lab in seen.batches_]),
        num_processes=accelerator.num_processes,
        sampler_replicas=getattr(sampler_, "num_replicas", -1),
        threshold=clf.threshold_,
        best_epoch=clf.best_epoch_ or -1,
        proba=clf.predict_proba(X)[:, 1],
        **{f"w_{k}": v.cpu().numpy() for k, v in clf.module_.state_dict().items()},
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
