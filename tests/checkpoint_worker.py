"""One fit with a checkpoint in a process of its own, for the kill tests of
``tests/test_checkpoints.py`` (and ``benchmarks/bench_checkpoint_kills.py``)::

    python -m tests.checkpoint_worker KIND DATA CHECKPOINT OUT

KIND: ``arrays`` (DATA: an ``.npz`` of ``X`` and ``y``), ``bagged`` (the same,
bagged) or ``sqlite`` (DATA: a file of ``write_sqlite``); CHECKPOINT: the folder,
or ``-`` for none. Prints ``started`` when the fit begins; writes the fitted
model's probabilities of the training rows, ``best_epoch_`` and ``threshold_`` to
OUT (``.npz``).
"""

import sys

import numpy as np


def main(kind, data, checkpoint, out, started=None):
    """The fit; ``started``: an event set when it begins (else a line printed)."""
    import torch

    torch.set_num_threads(1)  # every process the same arithmetic
    from skimb import ImbalancedNetClassifier
    from skimb.data import SQLiteDataset

    params = dict(
        random_state=0,
        verbose=0,
        max_epochs=12,
        bagging=3 if kind == "bagged" else None,
        checkpoint=None if checkpoint == "-" else checkpoint,
    )
    if kind == "sqlite":
        X, y = SQLiteDataset(data), None
    else:
        arrays = np.load(data)
        X, y = arrays["X"], arrays["y"]
    if started is None:
        print("started", flush=True)
    else:
        started.set()
    clf = ImbalancedNetClassifier(**params).fit(X, y)
    np.savez(
        out,
        proba=clf.predict_proba(X),
        best_epoch=-1 if clf.best_epoch_ is None else clf.best_epoch_,
        threshold=clf.threshold_,
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
