"""Out-of-core training: SQLiteDataset vs the same arrays in memory.

    python benchmarks/bench_sqlite.py [--rows 200000 1000000] [--features 64]

For each size, in one run: the classifier's epoch time over SQLiteDataset (0 and 2
DataLoader workers) as a ratio to in-memory arrays; rows/s of random batched reads vs a
full sequential scan; the one-row ``LIMIT 1 OFFSET i`` approach on a small sample,
extrapolated to an epoch; and the peak RSS of a fresh process training one epoch on the
database (flat memory means it does not grow with the database). Databases are written
to benchmarks/results/ (git-ignored) and reused.
"""

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from skimb import ImbalancedNetClassifier
from skimb.data import SQLiteDataset, write_sqlite

RESULTS = Path(__file__).parent / "results"
BATCH = 2048


def make_db(rows, features):
    path = RESULTS / f"bench_{rows}x{features}.db"
    if path.exists():
        return path, 0.0
    RESULTS.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    chunk = 100_000

    def chunks():
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            X = rng.standard_normal((n, features)).astype(np.float32)
            y = (X[:, 0] + X[:, 1] > 3.0).astype(np.int64)  # ~1.7% positives
            yield X, y

    start = time.perf_counter()
    write_sqlite(path, chunks())
    return path, time.perf_counter() - start


def net(**params):
    return ImbalancedNetClassifier(
        max_epochs=1,
        batch_size=BATCH,
        train_split=None,
        verbose=0,
        random_state=0,
        **params,
    )


def epoch_seconds(X, y=None, **params):
    start = time.perf_counter()
    net(**params).fit(X, y)
    return time.perf_counter() - start


def random_read_rate(ds, batches=50):
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(batches):
        ds.__getitems__(rng.integers(0, len(ds), BATCH).tolist())
    return batches * BATCH / (time.perf_counter() - start)


def sequential_scan_rate(path, rows):
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cursor = conn.execute("SELECT features, label FROM data ORDER BY id")
    while block := cursor.fetchmany(BATCH):
        np.frombuffer(b"".join(r[0] for r in block), dtype=np.float32)
    return rows / (time.perf_counter() - start)


def offset_rate(path, rows, samples=100):
    """The hand-written way: one query per row, LIMIT 1 OFFSET i."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rng = np.random.default_rng(2)
    start = time.perf_counter()
    for i in rng.integers(0, rows, samples):
        blob, _ = conn.execute(
            "SELECT features, label FROM data LIMIT 1 OFFSET ?", (int(i),)
        ).fetchone()
        np.frombuffer(blob, dtype=np.float32)
    return samples / (time.perf_counter() - start)


def peak_rss_mib(path):
    """Peak RSS of a fresh process that trains one epoch on the database."""
    code = (
        "import resource, sys;"
        "from skimb import ImbalancedNetClassifier, SQLiteDataset;"
        "ds = SQLiteDataset(sys.argv[1]);"
        f"ImbalancedNetClassifier(max_epochs=1, batch_size={BATCH}, train_split=None,"
        " verbose=0).fit(ds, None);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--features", type=int, default=64)
    args = parser.parse_args()
    results = []
    warm_X = np.random.default_rng(0).standard_normal((5000, args.features))
    epoch_seconds(warm_X.astype(np.float32), (warm_X[:, 0] > 1).astype(int))  # warm-up
    for rows in args.rows:
        path, write_s = make_db(rows, args.features)
        ds = SQLiteDataset(path)
        X = ds.__getitems__(list(range(rows)))[0].numpy()
        y = ds.labels
        memory = epoch_seconds(X, y)
        sqlite0 = epoch_seconds(ds)
        sqlite2 = epoch_seconds(
            ds, iterator_train__num_workers=2, iterator_valid__num_workers=2
        )
        random_rate = random_read_rate(ds)
        scan_rate = sequential_scan_rate(path, rows)
        off_rate = offset_rate(path, rows)
        results.append(
            dict(
                rows=rows,
                size_mib=os.path.getsize(path) / 2**20,
                write_s=write_s,
                memory_s=memory,
                sqlite0_s=sqlite0,
                sqlite2_s=sqlite2,
                random_rows_s=random_rate,
                scan_rows_s=scan_rate,
                offset_rows_s=off_rate,
                offset_epoch_s=rows / off_rate,
                peak_rss_mib=peak_rss_mib(path),
            )
        )
        del X
    print(
        f"{args.features} float32 features, batch {BATCH}, 1 epoch, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        "| rows | DB MiB | in-memory s/epoch | SQLite s/epoch (0 workers) | ratio "
        "| SQLite s/epoch (2 workers) | ratio | random batched reads rows/s "
        "| sequential scan rows/s | random / scan | OFFSET rows/s | OFFSET epoch "
        "(extrapolated) | OFFSET / SQLiteDataset | peak RSS MiB |"
    )
    print("|" + "---|" * 14)
    for r in results:
        print(
            f"| {r['rows']:,} | {r['size_mib']:.0f} | {r['memory_s']:.2f} | "
            f"{r['sqlite0_s']:.2f} | {r['sqlite0_s'] / r['memory_s']:.2f}x | "
            f"{r['sqlite2_s']:.2f} | {r['sqlite2_s'] / r['memory_s']:.2f}x | "
            f"{r['random_rows_s']:,.0f} | {r['scan_rows_s']:,.0f} | "
            f"{r['random_rows_s'] / r['scan_rows_s']:.2f} | {r['offset_rows_s']:,.0f} "
            f"| {r['offset_epoch_s']:,.0f} s | "
            f"{r['offset_epoch_s'] / r['sqlite0_s']:,.0f}x | {r['peak_rss_mib']:.0f} |"
        )
    (RESULTS / "bench_sqlite.json").write_text(json.dumps(results, indent=1))
    print(
        f"\nparent peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10}"
        " MiB (holds the in-memory copies)"
    )


if __name__ == "__main__":
    main()
