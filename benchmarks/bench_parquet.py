"""The classifier's defaults on a ParquetDataset vs in memory and vs SQLiteDataset.

The same rows (64 float32 features, 1% positives) in memory, in a SQLite table
(``write_sqlite``) and in Parquet files written by pyarrow with its defaults
(row groups of up to 1,048,576 rows) and with row groups of 65,536 rows, each
also as a writer appending 100,000 rows at a time leaves it (``LAYOUTS``). In one
run, for each size:

1. the time of a default fit (``max_epochs=3``, so every side does the same work)
   on each, as a ratio to the in-memory fit just before it (median over
   ``--seeds``), and to the SQLite fit of the same seed;
2. average precision on 50,000 fresh rows of each (mean over the seeds);
3. peak RSS of a fresh process fitting the defaults on each Parquet file
   (``--rss``), and what each row adds between the sizes.

Prints Markdown tables, writes them to benchmarks/results/parquet.md and a plot to
benchmarks/results/parquet.png. Data files are written to benchmarks/results/
(git-ignored) and reused.

    python benchmarks/bench_parquet.py [--rows 200000 1000000 4000000] [--seeds 3]
        [--rss] [--name parquet]
"""

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.metrics import average_precision_score

from skimb import ImbalancedNetClassifier, ParquetDataset, SQLiteDataset
from skimb.data import write_sqlite

RESULTS = Path(__file__).parent / "results"
FEATURES = 64
EPOCHS = 3
CHUNK = 100_000
# name: (row_group_size, rows handed to each write_table call). pyarrow's
# defaults write a row group of up to 1,048,576 rows per call; a writer that
# appends 100,000 rows at a time (as one writing chunk by chunk does) gets row
# groups of 100,000 rows, or of 65,536 and 34,464 with row_group_size=65,536.
LAYOUTS = {
    "parquet, pyarrow defaults": (None, 2**20),
    "parquet, 64k row groups": (65_536, 65_536),
    "parquet, 100k appends": (None, CHUNK),
    "parquet, 64k row groups, 100k appends": (65_536, CHUNK),
}


def make_rows(rows, seed):
    rng = np.random.default_rng(seed)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        X = rng.standard_normal((n, FEATURES)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] > 3.29).astype(np.int64)  # ~1% positives
        yield X, y


def make_files(rows):
    """The rows as a SQLite file and one Parquet file per layout (written once)."""
    RESULTS.mkdir(exist_ok=True)
    db = RESULTS / f"bench_parquet_{rows}.db"
    if not db.exists():
        write_sqlite(db, make_rows(rows, 0))
    paths = {}
    for name, (group_rows, append_rows) in LAYOUTS.items():
        tag = "default" if group_rows is None else f"rg{group_rows}"
        if append_rows != CHUNK:
            tag += f"_appends{append_rows}"
        path = RESULTS / f"bench_parquet_{rows}_{tag}.parquet"
        if not path.exists():
            write_parquet(path, make_rows(rows, 0), group_rows, append_rows)
        paths[name] = path
    return db, paths


def write_parquet(path, chunks, group_rows, append_rows):
    """The rows as one Parquet file, ``append_rows`` rows per ``write_table`` call
    (row groups of ``group_rows`` rows at most; None: pyarrow's default)."""
    writer, pending = None, []
    options = {} if group_rows is None else {"row_group_size": group_rows}
    for X, y in chunks:
        columns = {f"f{j}": X[:, j] for j in range(FEATURES)}
        pending.append(pa.table({**columns, "label": y.astype(np.int8)}))
        table = pa.concat_tables(pending)
        while table.num_rows >= append_rows:
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table.slice(0, append_rows), **options)
            table = table.slice(append_rows)
        pending = [table] if table.num_rows else []
    if pending:
        writer = writer or pq.ParquetWriter(path, pending[0].schema)
        writer.write_table(pa.concat_tables(pending), **options)
    writer.close()


def fit(X, y, seed):
    clf = ImbalancedNetClassifier(max_epochs=EPOCHS, random_state=seed, verbose=0)
    start = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - start


def time_rows(rows, seeds, X_test, y_test):
    db, paths = make_files(rows)
    X = np.concatenate([X for X, _ in make_rows(rows, 0)])
    y = SQLiteDataset(db).labels
    sides = {"memory": lambda: (X, y), "sqlite": lambda: (SQLiteDataset(db), None)}
    for name, path in paths.items():
        sides[name] = lambda path=path: (ParquetDataset(path), None)
    times = {k: [] for k in sides}
    aps = {k: [] for k in sides}
    for seed in range(seeds):
        for name, data in sides.items():
            clf, seconds = fit(*data(), seed)
            times[name].append(seconds)
            aps[name].append(
                average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
            )
    out = {}
    for name in sides:
        # each fit against the in-memory (and SQLite) fit of the same seed
        vs_memory = np.array(times[name]) / np.array(times["memory"])
        vs_sqlite = np.array(times[name]) / np.array(times["sqlite"])
        out[name] = dict(
            seconds=statistics.median(times[name]),
            vs_memory=float(np.median(vs_memory)),
            vs_sqlite=float(np.median(vs_sqlite)),
            ap=float(np.mean(aps[name])),
        )
    return out


def peak_rss_mib(path):
    """Peak RSS (VmHWM, MiB) of a fresh process fitting the defaults on ``path``."""
    code = (
        "import re, sys; from skimb import ImbalancedNetClassifier, ParquetDataset;"
        "ImbalancedNetClassifier(verbose=0, random_state=0, max_epochs=3)"
        ".fit(ParquetDataset(sys.argv[1]), None);"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())"
        ".group(1))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return int(out.split()[-1]) / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+",
                        default=[200_000, 1_000_000, 4_000_000])  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rss", action="store_true", help="measure peak RSS too")
    parser.add_argument("--name", default="parquet",
                        help="results/NAME.md and NAME.png")  # fmt: skip
    args = parser.parse_args(argv)
    X_test, y_test = next(make_rows(50_000, seed=1))
    warm = np.random.default_rng(0).standard_normal((30_000, FEATURES))
    fit(warm.astype(np.float32), (warm[:, 0] > 1).astype(int), 0)
    out = io.StringIO()

    def say(line=""):
        print(line)
        out.write(line + "\n")

    say(
        f"`python benchmarks/bench_parquet.py {' '.join(argv or sys.argv[1:])}`: "
        f"{FEATURES} float32 features, 1% positives, defaults with "
        f"max_epochs={EPOCHS}, {torch.get_num_threads()} threads; ratios: median "
        f"over {args.seeds} seeds of each fit / the fit of the same seed\n"
    )
    say("| rows | data | fit s | / in memory | / SQLite | AP |")
    say("|---|---|---|---|---|---|")
    timed = {}
    for rows in args.rows:
        timed[rows] = time_rows(rows, args.seeds, X_test, y_test)
        for name, r in timed[rows].items():
            say(f"| {rows:,} | {name} | {r['seconds']:.2f} | **{r['vs_memory']:.2f}x**"
                f" | {r['vs_sqlite']:.2f}x | {r['ap']:.4f} |")  # fmt: skip
    rss = {}
    if args.rss:
        say("\nPeak RSS of a fresh process fitting the defaults (max_epochs=3):\n")
        say("| rows | data | peak RSS | added per row since the previous size |")
        say("|---|---|---|---|")
        for rows in args.rows:
            _, paths = make_files(rows)
            for name, path in paths.items():
                peak = peak_rss_mib(path)
                before = [(r, p) for (r, n), p in rss.items() if n == name]
                grew = ""
                if before:
                    r0, p0 = before[-1]
                    grew = f"{(peak - p0) * 2**20 / (rows - r0):.1f} bytes"
                rss[(rows, name)] = peak
                say(f"| {rows:,} | {name} | {peak:.0f} MiB | {grew} |")
    (RESULTS / f"{args.name}.md").write_text(out.getvalue())
    plot(timed, rss, args.name)


def plot(timed, rss, stem):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = sorted(timed)
    for name in next(iter(timed.values())):
        if name != "memory":
            left.plot(sizes, [timed[r][name]["vs_memory"] for r in sizes], "o-",
                      label=name)  # fmt: skip
    left.axhline(1.3, color="grey", linestyle="--", label="target 1.3x")
    left.set(xscale="log", xlabel="rows", ylabel="fit time / in-memory fit",
             title="Default fit, 3 epochs")  # fmt: skip
    left.legend()
    for name in LAYOUTS:
        points = sorted((r, p) for (r, n), p in rss.items() if n == name)
        if points:
            right.plot(*zip(*points, strict=True), "o-", label=name)
    right.set(xlabel="rows", ylabel="peak RSS (MiB)", title="Peak RSS of a fit")
    if rss:
        right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=110)


if __name__ == "__main__":
    main()
