"""A table with TEXT columns and NULLs on disk vs the same DataFrame in memory.

Synthetic rows like a transactions table: 8 numeric columns (10% of their cells
missing), three categorical columns of 5, 50 and 500 categories, 1% positives that
depend on numbers and categories. Written with ``write_sqlite(path, frame, y)``
(TEXT and NULL), fitted with ``ImbalancedNetClassifier(max_epochs=3)`` otherwise at
its defaults, on the ``SQLiteDataset`` and on the DataFrame, each SQLite fit
against the in-memory fit just before it (after one warm-up fit), median over
``--seeds``, with AP on 50,000 fresh rows.

    python benchmarks/bench_sqlite_tables.py [--rows 200000 1000000] [--seeds 3]

Prints a Markdown table, writes benchmarks/results/sqlite_tables.{md,png}.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score

from skimb import ImbalancedNetClassifier
from skimb.data import SQLiteDataset, write_sqlite

RESULTS = Path(__file__).resolve().parent / "results"
EPOCHS = 3


def make_table(n, seed):
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, 8)) * rng.uniform(0.1, 100, 8)
    frame = pd.DataFrame(numbers, columns=[f"x{j}" for j in range(8)])
    levels = {"channel": 5, "merchant": 50, "city": 500}
    effects = {}
    for name, k in levels.items():
        codes = rng.zipf(1.6, n) % k
        frame[name] = np.array([f"{name[0]}{c}" for c in range(k)], dtype=object)[codes]
        effects[name] = np.random.default_rng(k).normal(0, 0.8, k)[codes]
    logit = (
        numbers[:, 0] / numbers[:, 0].std()
        - numbers[:, 1] / numbers[:, 1].std()
        + sum(effects.values())
    )
    logit = logit - np.quantile(logit, 0.99) + 0.5  # about 1% positives
    y = (rng.random(n) < 1 / (1 + np.exp(-3 * logit))).astype(int)
    for j in range(8):
        column = frame[f"x{j}"].to_numpy().copy()
        column[rng.random(n) < 0.1] = np.nan
        frame[f"x{j}"] = column
    return frame, y


def timed_fit(X, y, seed, **params):
    clf = ImbalancedNetClassifier(
        max_epochs=EPOCHS, random_state=seed, verbose=0, **params
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    test_frame, test_y = make_table(50_000, seed=99)
    timed_fit(*make_table(2_000, seed=1), seed=0)  # warm-up: imports, first calls
    lines = [
        "| rows | in memory s | SQLite s | SQLite / in memory | AP in memory | "
        "AP SQLite |",
        "|---|---|---|---|---|---|",
    ]
    results = []
    for n in args.rows:
        frame, y = make_table(n, seed=0)
        folder = tempfile.mkdtemp()
        path = Path(folder) / "table.db"
        chunks = ((frame.iloc[i : i + 100_000], y[i : i + 100_000]) for i in
                  range(0, n, 100_000))  # fmt: skip
        write_sqlite(path, chunks)
        times = {"memory": [], "sqlite": []}
        aps = {"memory": [], "sqlite": []}
        for seed in range(args.seeds):
            runs = [("memory", frame, y, {}), ("sqlite", SQLiteDataset(path), None, {})]
            for name, X, labels, params in runs:
                clf, seconds = timed_fit(X, labels, seed, **params)
                times[name].append(seconds)
                proba = clf.predict_proba(test_frame)[:, 1]
                aps[name].append(average_precision_score(test_y, proba))
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = statistics.median(
            s / m for s, m in zip(times["sqlite"], times["memory"], strict=True)
        )
        ap = {k: (np.mean(v), np.std(v)) for k, v in aps.items()}
        results.append((n, ratio))
        lines.append(
            f"| {n:,} | {med['memory']:.2f} | {med['sqlite']:.2f} | **{ratio:.2f}x** | "
            f"{ap['memory'][0]:.4f} ± {ap['memory'][1]:.4f} | "
            f"{ap['sqlite'][0]:.4f} ± {ap['sqlite'][1]:.4f} |"
        )
        print(lines[-1], flush=True)
    header = (
        f"`python benchmarks/bench_sqlite_tables.py {' '.join(argv or sys.argv[1:])}`"
        f" (torch {torch.__version__}, 1 thread, max_epochs={EPOCHS}, median of "
        f"{args.seeds} paired fits):\n"
    )
    table = "\n".join(lines)
    print(header)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sqlite_tables.md").write_text(header + "\n" + table + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    rows = [f"{n:,}" for n, _ in results]
    ax.bar(np.arange(len(rows)), [r for _, r in results], 0.5, color="tab:red")
    ax.axhline(1.5, color="gray", ls="--", lw=1, label="target: 1.5x")
    ax.set_xticks(np.arange(len(rows)), rows)
    ax.set_ylabel("SQLite fit time / in memory")
    ax.set_title("TEXT + NULL table on disk")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "sqlite_tables.png", dpi=110)


if __name__ == "__main__":
    main()
