"""Out-of-core training: SQLiteDataset vs the same arrays in memory.

    python benchmarks/bench_sqlite.py [--rows 200000 1000000] [--features 64]
                                      [--repeats 3]

For each size, in one run:

1. epoch time of the classifier over SQLiteDataset, as a ratio to the same arrays in
   memory (shuffled): plain shuffling (random reads), block shuffling
   (``sampler="block_shuffle"``) with and without the block cache, and block
   shuffling with 2 DataLoader workers; and ``sampler="batch_balanced"`` with and
   without ``sampler__block_size``, as a ratio to the same sampler in memory. Each
   is the median of ``--repeats`` runs, interleaved so that machine noise hits every
   setting alike;
2. rows/s of batched reads in a random order, in a block-shuffled order, and of a
   full sequential scan (the practical limit); the one-row ``LIMIT 1 OFFSET i``
   approach on a small sample, extrapolated to an epoch;
3. peak RSS of a fresh process training one epoch on the database (flat memory means
   it does not grow with the database);
4. whether block shuffling costs accuracy: average precision on fresh test data after
   3 epochs, plain vs block shuffling, on the smallest database and on a copy of it
   written sorted by label (the worst file order for block shuffling).

Prints Markdown tables, writes them to benchmarks/results/sqlite.md and a plot to
benchmarks/results/sqlite.png. Databases are written to benchmarks/results/
(git-ignored) and reused.
"""

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score
from torch.utils.data import RandomSampler

from skimb import BlockShuffleSampler, ImbalancedNetClassifier
from skimb.data import SQLiteDataset, write_sqlite

RESULTS = Path(__file__).parent / "results"
BATCH = 2048
CHUNK = 100_000

SETTINGS = {  # name: (SQLiteDataset kwargs, classifier kwargs)
    # a plain shuffle (sampler=None now block-shuffles a SQLiteDataset)
    "shuffle": ({}, {"sampler": RandomSampler}),
    "block shuffle": ({}, {"sampler": "block_shuffle"}),
    "block shuffle, no cache": ({"cache_mib": 0}, {"sampler": "block_shuffle"}),
    "block shuffle, 2 workers": (
        {},
        {"sampler": "block_shuffle", "iterator_train__num_workers": 2},
    ),
}
BALANCED = {"sampler": "batch_balanced", "sampler__pos_per_batch": 32}
# The classifier's default: a stratified 80/20 split, scored every epoch.
SPLIT = {"train_split": ImbalancedNetClassifier().train_split}
SPLIT_SETTINGS = {
    "shuffle, validation split": ({}, {**SPLIT, "sampler": RandomSampler}),
    "block shuffle, validation split": ({}, {**SPLIT, "sampler": "block_shuffle"}),
}
BALANCED_SETTINGS = {
    "batch_balanced": ({}, BALANCED),
    "batch_balanced, block_size=256": ({}, {**BALANCED, "sampler__block_size": 256}),
}


def make_rows(rows, features, seed):
    rng = np.random.default_rng(seed)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        X = rng.standard_normal((n, features)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] > 3.0).astype(np.int64)  # ~1.7% positives
        yield X, y


def make_db(rows, features, sort_by_label=False):
    name = f"bench_{rows}x{features}{'_sorted' if sort_by_label else ''}.db"
    path = RESULTS / name
    if path.exists():
        return path, 0.0
    RESULTS.mkdir(exist_ok=True)
    chunks = make_rows(rows, features, seed=0)
    if sort_by_label:  # small sizes only: sorts in memory
        X, y = map(np.concatenate, zip(*chunks, strict=True))
        order = np.argsort(y, kind="stable")
        chunks = [(X[order], y[order])]
    start = time.perf_counter()
    write_sqlite(path, chunks)
    return path, time.perf_counter() - start


def net(**params):
    defaults = dict(
        max_epochs=1, batch_size=BATCH, train_split=None, verbose=0, random_state=0
    )
    return ImbalancedNetClassifier(**(defaults | params))


def epoch_seconds(X, y=None, **params):
    start = time.perf_counter()
    net(**params).fit(X, y)
    return time.perf_counter() - start


def read_rate(ds, order, batches=150):
    """Rows/s of ``__getitems__`` over the first batches of ``order``."""
    ds.labels  # noqa: B018 - read the id/label columns outside the timing
    start = time.perf_counter()
    n = 0
    for i in range(0, min(len(order), batches * BATCH), BATCH):
        n += len(ds.__getitems__(order[i : i + BATCH].tolist())[1])
    return n / (time.perf_counter() - start)


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


def peak_rss_mib(path, sampler):
    """Peak RSS of a fresh process that trains one epoch on the database, with
    ``sampler`` (Python source of the parameter value).

    Read from VmHWM in /proc (the peak of this process's own memory): ru_maxrss would
    carry over the peak of the parent, which holds the in-memory copies, across exec.
    """
    code = (
        "import re, sys, torch;"
        "from skimb import ImbalancedNetClassifier, SQLiteDataset;"
        "ds = SQLiteDataset(sys.argv[1]);"
        f"ImbalancedNetClassifier(max_epochs=1, batch_size={BATCH}, train_split=None,"
        f" verbose=0, sampler={sampler}).fit(ds, None);"
        "status = open('/proc/self/status').read();"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def time_epochs(ds_path, X, y, repeats):
    settings = SETTINGS | SPLIT_SETTINGS | BALANCED_SETTINGS
    baselines = {
        "in memory": {},
        "in memory, validation split": SPLIT,
        "in memory, batch_balanced": BALANCED,
    }
    times = {name: [] for name in baselines | settings}
    for _ in range(repeats):
        for name, params in baselines.items():
            times[name].append(epoch_seconds(X, y, **params))
        for name, (ds_kwargs, params) in settings.items():
            ds = SQLiteDataset(ds_path, **ds_kwargs)
            ds.labels  # noqa: B018 - read the id/label columns outside the timing
            times[name].append(epoch_seconds(ds, **params))
    return {name: float(np.median(t)) for name, t in times.items()}


def quality(rows, features):
    """AP on fresh data after 3 epochs: plain vs block shuffling, two file orders."""
    X_test, y_test = next(make_rows(50_000, features, seed=1))
    out = {}
    for order in ("random", "sorted by label"):
        path, _ = make_db(rows, features, sort_by_label=order != "random")
        for name, sampler in (("shuffle", RandomSampler), ("block_shuffle", None)):
            clf = net(max_epochs=3, sampler=sampler).fit(SQLiteDataset(path), None)
            ap = average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
            out[(order, name)] = ap
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = []
    warm_X = np.random.default_rng(0).standard_normal((5000, args.features))
    epoch_seconds(warm_X.astype(np.float32), (warm_X[:, 0] > 1).astype(int))
    for rows in args.rows:
        path, write_s = make_db(rows, args.features)
        ds = SQLiteDataset(path)
        X = ds.__getitems__(np.arange(rows))[0].numpy()
        y = ds.labels
        epochs = time_epochs(path, X, y, args.repeats)
        del X
        random_order = np.random.default_rng(1).permutation(rows)
        block_order = np.fromiter(BlockShuffleSampler(y, seed=1), np.int64)
        results.append(
            dict(
                rows=rows,
                size_mib=os.path.getsize(path) / 2**20,
                write_s=write_s,
                epochs=epochs,
                random_rows_s=read_rate(SQLiteDataset(path), random_order),
                block_rows_s=read_rate(SQLiteDataset(path), block_order),
                scan_rows_s=sequential_scan_rate(path, rows),
                offset_rows_s=offset_rate(path, rows),
                rss_shuffle=peak_rss_mib(path, "torch.utils.data.RandomSampler"),
                rss_block=peak_rss_mib(path, "'block_shuffle'"),
            )
        )
    ap = quality(min(args.rows), args.features)
    report = io.StringIO()
    with redirect_stdout(report):
        print_tables(results, ap, args)
    print(report.getvalue())
    (RESULTS / "sqlite.md").write_text(report.getvalue())
    (RESULTS / "bench_sqlite.json").write_text(json.dumps(results, indent=1))
    plot(results)


def print_tables(results, ap, args):
    print(
        f"{args.features} float32 features, batch {BATCH}, 1 epoch, "
        f"{os.cpu_count()} cores, median of {args.repeats} runs\n"
    )
    print("Epoch time (s), and ratio to the same arrays in memory:\n")
    print_epoch_table(results, list(SETTINGS), "in memory", db_size=True)
    print(
        "\nWith the classifier's default validation split (stratified 80/20, "
        "scored each epoch), ratio to the same in memory:\n"
    )
    print_epoch_table(
        results, list(SPLIT_SETTINGS), "in memory, validation split", db_size=False
    )
    print(
        '\nWith `sampler="batch_balanced"` '
        f"(`pos_per_batch={BALANCED['sampler__pos_per_batch']}`), "
        "ratio to the same sampler in memory:\n"
    )
    print_epoch_table(
        results, list(BALANCED_SETTINGS), "in memory, batch_balanced", db_size=False
    )
    print("\nReads (batches of 2048 rows, rows/s):\n")
    print(
        "| rows | random order | block-shuffled order | sequential scan "
        "| random / scan | block / scan | OFFSET per row | OFFSET epoch "
        "(extrapolated) | OFFSET / block-shuffled epoch |"
    )
    print("|" + "---|" * 9)
    for r in results:
        offset_epoch = r["rows"] / r["offset_rows_s"]
        print(
            f"| {r['rows']:,} | {r['random_rows_s']:,.0f} | {r['block_rows_s']:,.0f} "
            f"| {r['scan_rows_s']:,.0f} | {r['random_rows_s'] / r['scan_rows_s']:.2f} "
            f"| {r['block_rows_s'] / r['scan_rows_s']:.2f} "
            f"| {r['offset_rows_s']:,.0f} | {offset_epoch:,.0f} s "
            f"| {offset_epoch / r['epochs']['block shuffle']:,.0f}x |"
        )
    print("\nPeak RSS of a process training one epoch on the database (MiB):\n")
    print("| rows | DB MiB | shuffle | block shuffle (64 MiB cache) |")
    print("|---|---|---|---|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['size_mib']:.0f} | {r['rss_shuffle']:.0f} "
            f"| {r['rss_block']:.0f} |"
        )
    print(
        f"\nAverage precision on 50,000 fresh rows after 3 epochs on "
        f"{min(args.rows):,} rows:\n"
    )
    print("| file order | shuffle | block shuffle |")
    print("|---|---|---|")
    for order in ("random", "sorted by label"):
        print(
            f"| {order} | {ap[(order, 'shuffle')]:.4f} "
            f"| {ap[(order, 'block_shuffle')]:.4f} |"
        )


def print_epoch_table(results, names, base, db_size):
    size_head = "DB MiB | " if db_size else ""
    print(
        f"| rows | {size_head}in memory | "
        + " | ".join(f"SQLite, {n}" for n in names)
        + " |"
    )
    print("|" + "---|" * (2 + db_size + len(names)))
    for r in results:
        e = r["epochs"]
        size = f"{r['size_mib']:.0f} | " if db_size else ""
        cells = [f"{e[n]:.2f} s ({e[n] / e[base]:.2f}x)" for n in names]
        print(f"| {r['rows']:,} | {size}{e[base]:.2f} s | " + " | ".join(cells) + " |")


def plot(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(SETTINGS)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(results)
    for k, r in enumerate(results):
        ratios = [r["epochs"][n] / r["epochs"]["in memory"] for n in names]
        xs = np.arange(len(names)) + k * width
        ax.bar(xs, ratios, width, label=f"{r['rows']:,} rows")
    ax.axhline(1, color="black", lw=0.8)
    ax.axhline(2, color="grey", ls="--", lw=0.8, label="target (2x)")
    ax.set_xticks(np.arange(len(names)) + width * (len(results) - 1) / 2)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("epoch time / in memory")
    ax.set_title("SQLiteDataset epoch time vs the same arrays in memory")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "sqlite.png", dpi=120)


if __name__ == "__main__":
    main()
