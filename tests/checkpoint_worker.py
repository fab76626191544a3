"""One fit with a checkpoint in a process of its own, for the kill tests of
``tests/test_checkpoints.py`` (and ``benchmarks/bench_checkpoint_kills.py``)::

    python -m tests.checkpoint_worker KIND DATA CHECKPOINT OUT

KIND: ``arrays`` (DATA: an ``.npz`` of ``X`` and ``y``), ``bagged`` (the same,
bagged) or ``sqlite`` (DATA: a file of ``write_sqlite``); CHECKPOINT: the folder,
or ``-`` for none. Prints ``started`` when the fit begins; writes the fitted
model's probabilities of the training rows, ``best_epoch_`` and ``threshold_`` to
OUT (``.npz``). :func:`start_fit` runs it in a process, :func:`kill` kills it
at a chosen moment.
"""

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from skimb.checkpoints import CHECKPOINT_FILE, read_checkpoint


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


def start_fit(processes, kind, data, folder, out):
    """Start :func:`main` in a process of the multiprocessing context ``processes``;
    returns it once the fit has begun."""
    started = processes.Event()
    process = processes.Process(
        target=main, args=(kind, str(data), str(folder), str(out), started)
    )
    process.start()
    if not started.wait(60):
        raise RuntimeError("the fit never started")
    return process


def checkpoint_files(folder):
    """The checkpoint files in ``folder`` (a bag's in its networks' folders)."""
    return sorted(Path(folder).rglob(CHECKPOINT_FILE))


def writing(folder):
    """Whether a checkpoint is being written in ``folder`` now."""
    return any(Path(folder).rglob(f".{CHECKPOINT_FILE}.*.tmp"))


def kill(process, folder, epochs=None, delay=0.0):
    """SIGKILL ``process`` ``delay`` seconds after its checkpoints hold ``epochs``
    epochs in all (a bag's networks together), or (``epochs`` None) as soon as a
    checkpoint is being written; True if it was killed before it ended. Counting
    epochs, not seconds, spreads the kills over the fit however busy the machine
    is."""
    done, seen, deadline = {}, {}, time.monotonic() + 120
    while process.is_alive() and time.monotonic() < deadline:
        if epochs is None:
            if writing(folder):
                break
            continue
        for path in checkpoint_files(folder):
            try:
                stat = path.stat()
                key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if seen.get(path) != key:
                    seen[path] = key
                    done[path] = len(read_checkpoint(path)["history"])
            except FileNotFoundError:
                pass  # renamed over just now: read at the next look
        if sum(done.values()) >= epochs:
            process.join(delay)
            break
        time.sleep(0.002)
    killed = process.is_alive()
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.join()
    return killed


if __name__ == "__main__":
    main(*sys.argv[1:])
