"""Write throughput: crash-safe write_sqlite (WAL, atomic replace) vs rollback journal.

The crash-safe ``write_sqlite`` writes in write-ahead-log mode and, for
``if_exists="replace"``, fills a new table that replaces the old one at the end. The
baseline, measured in the same run, is what it did before: rollback-journal mode
(``journal_mode=DELETE``), one transaction per chunk straight into the table, the
old table dropped first. Median of 3 interleaved runs.

    python benchmarks/bench_sqlite_write.py [--chunks 50] [--rows 20000]
"""

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from skimb.data import write_sqlite


def chunks(n_chunks, rows, features, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_chunks):
        yield (
            rng.normal(size=(rows, features)).astype(np.float32),
            (rng.random(rows) < 0.01).astype(np.int64),
        )


def rollback_journal_write(path, data, replace):
    """The previous write_sqlite: DELETE journal mode, table dropped first."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    first = True
    for X, y in data:
        conn.execute("BEGIN IMMEDIATE")
        if first and replace:
            conn.execute("DROP TABLE IF EXISTS data")
        if first:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS data (id INTEGER PRIMARY KEY, "
                "features BLOB NOT NULL, label INTEGER NOT NULL)"
            )
            first = False
        conn.executemany(
            "INSERT INTO data (features, label) VALUES (?, ?)",
            zip(map(bytes, X), y.tolist(), strict=True),
        )
        conn.execute("COMMIT")
    conn.close()


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=32)
    args = parser.parse_args(argv)
    n_rows = args.chunks * args.rows

    # Generated once, outside the timings.
    generated = list(chunks(args.chunks, args.rows, args.features))

    def data():
        return iter(generated)

    times = {k: [] for k in ("rollback fresh", "skimb fresh", "rollback replace",
                             "skimb replace")}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for run in range(3):
            for name in times:
                path = Path(folder) / f"{name.replace(' ', '_')}_{run}.db"
                replace = name.endswith("replace")
                if replace:  # an existing table of the same size to replace
                    write_sqlite(path, data())
                if name.startswith("rollback"):
                    seconds = timed(rollback_journal_write, path, data(), replace)
                else:
                    mode = "replace" if replace else "fail"
                    seconds = timed(write_sqlite, path, data(), if_exists=mode)
                times[name].append(seconds)
                path.unlink()
    print(f"`python benchmarks/bench_sqlite_write.py`: {args.chunks} chunks of "
          f"{args.rows:,} x {args.features} float32, median of 3\n")  # fmt: skip
    print("| write | rollback journal (before) | crash-safe write_sqlite | ratio |")
    print("|---|---|---|---|")
    for kind in ("fresh", "replace"):
        before = statistics.median(times[f"rollback {kind}"])
        after = statistics.median(times[f"skimb {kind}"])
        print(
            f"| {kind} table | {n_rows / before:,.0f} rows/s | "
            f"{n_rows / after:,.0f} rows/s | {before / after:.2f}x |"
        )


if __name__ == "__main__":
    main()
