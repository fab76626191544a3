"""Kill trials: fits SIGKILLed at random moments, resumed, compared bit for bit.

    python benchmarks/bench_checkpoint_kills.py [--trials 12] [--seed 0]

For each kind of fit of ``tests/checkpoint_worker.py`` (arrays, a SQLiteDataset,
a bag of three; 4,000 rows, 12 epochs, ``random_state=0``): one uninterrupted fit
in its own process, then ``--trials`` fits with a checkpoint, each SIGKILLed
after a random number of completed epochs (over the whole fit, a bag's networks
together) plus a random delay of up to 0.2 s, or, for every fourth trial, as soon
as a checkpoint write is under way; then every checkpoint left behind is read and
the fit is resumed in a new process. Counts, per kind: kills, kills during a write,
unreadable checkpoints, resumed fits equal to the uninterrupted one (the same
``predict_proba`` bit for bit, ``best_epoch_`` and ``threshold_``). Prints a
Markdown table and writes ``benchmarks/results/checkpoint_kills.md``.
"""

import argparse
import multiprocessing
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skimb.checkpoints import read_checkpoint  # noqa: E402
from skimb.data import write_sqlite  # noqa: E402
from tests.checkpoint_worker import checkpoint_files, kill, start_fit  # noqa: E402

EPOCHS = {"arrays": 12, "sqlite": 12, "bagged": 36}  # a bag: 3 networks


def trials_of(kind, data, n_trials, rng, folder, processes):
    reference = start_fit(processes, kind, data, "-", folder / f"{kind}-ref.npz")
    reference.join()
    expected = np.load(folder / f"{kind}-ref.npz")
    counts = dict(trials=0, killed=0, during_write=0, unreadable=0, equal=0)
    for trial in range(n_trials):
        ck, out = folder / f"{kind}-ck{trial}", folder / f"{kind}-out{trial}.npz"
        process = start_fit(processes, kind, data, ck, out)
        if trial % 4 == 3:
            killed = kill(process, ck)
            counts["during_write"] += killed
        else:
            epochs = int(rng.integers(0, EPOCHS[kind]))
            killed = kill(process, ck, epochs, float(rng.uniform(0, 0.2)))
        counts["killed"] += killed
        for path in checkpoint_files(ck):
            try:
                read_checkpoint(path)
            except ValueError:
                counts["unreadable"] += 1
        resumed = start_fit(processes, kind, data, ck, out)
        resumed.join()
        result = np.load(out)
        counts["equal"] += bool(
            np.array_equal(result["proba"], expected["proba"])
            and result["best_epoch"] == expected["best_epoch"]
            and result["threshold"] == expected["threshold"]
        )
        counts["trials"] += 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    processes = multiprocessing.get_context("forkserver")
    processes.set_forkserver_preload(["tests.checkpoint_worker", "skimb", "torch"])
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        X, y = make_classification(4000, n_features=16, weights=[0.95], random_state=0)
        X = X.astype(np.float32)
        np.savez(folder / "data.npz", X=X, y=y)
        write_sqlite(folder / "data.db", X, y)
        data = {"arrays": "data.npz", "sqlite": "data.db", "bagged": "data.npz"}
        for kind, name in data.items():
            counts = trials_of(kind, folder / name, args.trials, rng, folder, processes)
            rows.append((kind, counts))
            print(kind, counts, flush=True)
    lines = [
        f"`python benchmarks/bench_checkpoint_kills.py --trials {args.trials} "
        f"--seed {args.seed}`",
        "",
        "| fit | trials | killed before the end | killed during a write "
        "| unreadable checkpoints | resumed = uninterrupted |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, c in rows:
        lines.append(
            f"| {kind} | {c['trials']} | {c['killed']} | {c['during_write']} | "
            f"{c['unreadable']} | {c['equal']} / {c['trials']} |"
        )
    text = "\n".join(lines)
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "checkpoint_kills.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
