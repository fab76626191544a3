"""The classifier's defaults on a SQLiteDataset vs the same defaults in memory.

Out-of-core by default: with no options, ``fit(SQLiteDataset(path), None)`` block-
shuffles the training rows, reads the validation split in storage order, streams the
scaling statistics, selects the epoch, tunes the threshold and corrects the prior,
all without loading the table. For each size, in one run (median of ``--repeats``
interleaved fits, ``max_epochs=3`` so both sides do the same work, ``num_workers=0``):

1. fit time over SQLite as a ratio to the same fit on the arrays in memory;
2. average precision on 50,000 fresh rows, several seeds, SQLite vs memory;
3. peak RSS of a fresh process fitting the defaults on the database.

    python benchmarks/bench_sqlite_defaults.py [--rows 200000 1000000] [--seeds 3]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sqlite import make_db, make_rows  # noqa: E402

from skimb import ImbalancedNetClassifier, SQLiteDataset  # noqa: E402

EPOCHS = 3


def fit(X, y, seed):
    clf = ImbalancedNetClassifier(max_epochs=EPOCHS, random_state=seed, verbose=0)
    start = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - start


def peak_rss_mib(path):
    code = (
        "import re, sys;"
        "from skimb import ImbalancedNetClassifier, SQLiteDataset;"
        f"ImbalancedNetClassifier(max_epochs={EPOCHS}, verbose=0)"
        ".fit(SQLiteDataset(sys.argv[1]), None);"
        "status = open('/proc/self/status').read();"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return int(out.strip().splitlines()[-1]) / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    X_test, y_test = next(make_rows(50_000, args.features, seed=1))
    warm = np.random.default_rng(0).standard_normal((5000, args.features))
    fit(warm.astype(np.float32), (warm[:, 0] > 1).astype(int), 0)
    print(f"`python benchmarks/bench_sqlite_defaults.py`: {args.features} float32 "
          f"features, defaults with max_epochs={EPOCHS}, num_workers=0, median of "
          f"{args.seeds} interleaved fits (one per seed); ratio: median of the "
          "seeds' SQLite / in-memory ratios\n")  # fmt: skip
    print("| rows | in memory s | SQLite s | ratio | ratio per seed | AP in memory | "
          "AP SQLite | sampler_ | batch_size_ | peak RSS (SQLite fit) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows in args.rows:
        path, _ = make_db(rows, args.features)
        ds = SQLiteDataset(path)
        X, y = ds.__getitems__(np.arange(rows))[0].numpy(), ds.labels
        times = {"memory": [], "sqlite": []}
        aps = {"memory": [], "sqlite": []}
        for seed in range(args.seeds):
            for where, data in (
                ("memory", (X, y)),
                ("sqlite", (SQLiteDataset(path), None)),
            ):
                clf, seconds = fit(*data, seed)
                times[where].append(seconds)
                proba = clf.predict_proba(X_test)[:, 1]
                aps[where].append(average_precision_score(y_test, proba))
            sampler = type(clf.sampler_).__name__
        del X
        memory, sqlite = (statistics.median(times[k]) for k in ("memory", "sqlite"))
        # Each SQLite fit against the in-memory fit just before it: the machine's
        # speed drifts between seeds more than it does between the two fits.
        paired = np.array(times["sqlite"]) / np.array(times["memory"])
        ap = {k: f"{np.mean(v):.4f} ± {np.std(v):.4f}" for k, v in aps.items()}
        print(
            f"| {rows:,} | {memory:.2f} | {sqlite:.2f} | {np.median(paired):.2f}x | "
            f"{', '.join(f'{r:.2f}' for r in paired)} | {ap['memory']} | "
            f"{ap['sqlite']} | {sampler} | {clf.batch_size_} | "
            f"{peak_rss_mib(path):.0f} MiB |"
        )


if __name__ == "__main__":
    main()
