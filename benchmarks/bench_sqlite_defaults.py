"""The classifier's defaults on a SQLiteDataset vs the same defaults in memory.

Out-of-core by default: with no options, ``fit(SQLiteDataset(path), None)`` block-
shuffles the training rows (each epoch opening with the blocks the last one left in
the block cache), reads the validation split once in storage order, streams the
scaling statistics, selects the epoch, tunes the threshold and corrects the prior,
all without loading the table. In one run:

1. for each size and block cache size (``--cache-mib``, default: the dataset's
   default), fit time over SQLite as a ratio to the same fit on the arrays in memory
   (``max_epochs=3`` so both sides do the same work, ``num_workers=0``; each SQLite
   fit against the in-memory fit just before it, median over ``--seeds``);
2. average precision on 50,000 fresh rows, several seeds, SQLite vs memory;
3. peak RSS of a fresh process fitting the defaults (all their epochs) on databases
   of ``--rss-rows`` rows, what each row adds (with and without the training
   positives the dataset holds, a bounded cache), and the same with the history's
   batch records kept as skorch's dicts (the baseline of ``skimb.history``).

Prints Markdown tables, writes them to benchmarks/results/sqlite_defaults.md and a
plot to benchmarks/results/sqlite_defaults.png.

    python benchmarks/bench_sqlite_defaults.py [--rows 200000 1000000] [--seeds 5]
        [--cache-mib 32 64 128 256] [--rss-rows 200000 1000000 2000000]
"""

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sqlite import RESULTS, make_db, make_rows  # noqa: E402

from skimb import ImbalancedNetClassifier, SQLiteDataset  # noqa: E402

EPOCHS = 3


def fit(X, y, seed):
    clf = ImbalancedNetClassifier(max_epochs=EPOCHS, random_state=seed, verbose=0)
    start = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - start


def peak_rss_mib(path, batch_dicts=False):
    """Peak RSS (VmHWM) of a fresh process fitting the defaults (every epoch they
    run: 20 at these sizes) on ``path``, its RSS after the imports, before reading
    anything, the RSS at the end of the first and of the last epoch, the epochs
    run, and the MiB of training positives the dataset held (a bounded cache:
    ``skimb.data.rows.HELD_RARE_MIB``). ``batch_dicts``: keep every batch record
    as skorch's dict (no ``skimb.history.close_epoch``), the baseline of the
    history's memory."""
    code = (
        "import re, sys;"
        "status = lambda k: int(re.search(k + r':\\s+(\\d+) kB',"
        " open('/proc/self/status').read()).group(1));"
        "import skimb.classifier;"
        "from skimb import ImbalancedNetClassifier, SQLiteDataset;"
        "from skorch.callbacks import Callback;"
        "rss = [];"
        "Rss = type('Rss', (Callback,), {'on_epoch_end':"
        " lambda self, net, **kw: rss.append(status('VmRSS'))});"
        + (
            "skimb.classifier.close_epoch = lambda history: None;"
            if batch_dicts
            else ""
        )
        + "base = status('VmHWM');"
        "ds = SQLiteDataset(sys.argv[1]);"
        "ImbalancedNetClassifier(verbose=0, random_state=0, callbacks=[('rss', Rss())])"
        ".fit(ds, None);"
        "held = 0 if ds._held is None else ds._held.features.nbytes // 1024;"
        "print(base, status('VmHWM'), rss[0], rss[-1], len(rss), held)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    base, peak, first, last, epochs, held = map(
        int, out.strip().splitlines()[-1].split()
    )
    return base / 1024, peak / 1024, first / 1024, last / 1024, epochs, held / 1024


def time_row(rows, features, cache_mib, seeds, X_test, y_test):
    path, _ = make_db(rows, features)
    ds = SQLiteDataset(path)
    X, y = ds.__getitems__(np.arange(rows))[0].numpy(), ds.labels
    options = {} if cache_mib is None else {"cache_mib": cache_mib}
    times = {"memory": [], "sqlite": []}
    aps = {"memory": [], "sqlite": []}
    for seed in range(seeds):
        for where, data in (
            ("memory", (X, y)),
            ("sqlite", (SQLiteDataset(path, **options), None)),
        ):
            clf, seconds = fit(*data, seed)
            times[where].append(seconds)
            proba = clf.predict_proba(X_test)[:, 1]
            aps[where].append(average_precision_score(y_test, proba))
    del X
    memory, sqlite = (statistics.median(times[k]) for k in ("memory", "sqlite"))
    # Each SQLite fit against the in-memory fit just before it: the machine's speed
    # drifts between seeds more than it does between the two fits.
    paired = np.array(times["sqlite"]) / np.array(times["memory"])
    cache = SQLiteDataset(path, **options).cache_mib
    return dict(
        rows=rows, cache_mib=cache, memory=memory, sqlite=sqlite,
        ratio=float(np.median(paired)), paired=paired.tolist(),
        ap={k: (float(np.mean(v)), float(np.std(v))) for k, v in aps.items()},
        sampler=type(clf.sampler_).__name__, batch_size=clf.batch_size_,
        reuse_blocks=getattr(clf.sampler_, "reuse_blocks", None),
    )  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--cache-mib", type=float, nargs="+", default=[None],
        help="block cache sizes to time (default: the dataset's default)",
    )  # fmt: skip
    parser.add_argument(
        "--rss-rows", type=int, nargs="*", default=[200_000, 1_000_000, 2_000_000]
    )
    args = parser.parse_args(argv)
    X_test, y_test = next(make_rows(50_000, args.features, seed=1))
    warm = np.random.default_rng(0).standard_normal((30_000, args.features))
    fit(warm.astype(np.float32), (warm[:, 0] > 1).astype(int), 0)
    out = io.StringIO()

    def say(line=""):
        print(line)
        out.write(line + "\n")

    say(f"`python benchmarks/bench_sqlite_defaults.py {' '.join(argv or sys.argv[1:])}`"
        f": {args.features} float32 features, defaults with max_epochs={EPOCHS}, "
        f"num_workers=0, {torch.get_num_threads()} threads; ratio: median over "
        f"{args.seeds} seeds of each SQLite fit / the in-memory fit just "
        "before it\n")  # fmt: skip
    say("| rows | cache_mib | in memory s | SQLite s | ratio | ratio per seed | "
        "AP in memory | AP SQLite | sampler_ (reuse_blocks) | "
        "batch_size_ |")  # fmt: skip
    say("|---|---|---|---|---|---|---|---|---|---|")
    timed = []
    for rows in args.rows:
        for cache_mib in args.cache_mib:
            r = time_row(rows, args.features, cache_mib, args.seeds, X_test, y_test)
            timed.append(r)
            ap = {k: f"{m:.4f} ± {s:.4f}" for k, (m, s) in r["ap"].items()}
            say(f"| {rows:,} | {r['cache_mib']:g} | {r['memory']:.2f} | "
                f"{r['sqlite']:.2f} | **{r['ratio']:.2f}x** | "
                f"{', '.join(f'{x:.2f}' for x in r['paired'])} | {ap['memory']} | "
                f"{ap['sqlite']} | {r['sampler']} ({r['reuse_blocks']}) | "
                f"{r['batch_size']} |")  # fmt: skip
    rss = []
    if args.rss_rows:
        say("\nPeak RSS of a fresh process fitting the defaults, every epoch they run "
            "(VmHWM; after the imports, before reading anything, it is the first "
            "column); RSS at the end of the first and of the last epoch; and, in the "
            "same run, the peak with every batch record kept as skorch's dict "
            "(before `skimb.history`):\n")  # fmt: skip
        say("| rows | DB MiB | RSS after imports | peak RSS | added per row since "
            "the previous size | positives held (bounded) | added per row, less "
            "the positives held | epochs | RSS epoch 1 -> last | peak RSS, batch "
            "dicts | added per row, batch dicts |")  # fmt: skip
        say("|---|---|---|---|---|---|---|---|---|---|---|")
        for rows in args.rss_rows:
            path, _ = make_db(rows, args.features)
            base, peak, first, last, epochs, held = peak_rss_mib(path)
            dicts_peak = peak_rss_mib(path, batch_dicts=True)[1]
            grew = unheld_grew = dicts_grew = ""
            if rss:
                per_row = 2**20 / (rows - rss[-1][0])
                grew = f"{(peak - rss[-1][2]) * per_row:.1f} bytes"
                unheld = (peak - held) - (rss[-1][2] - rss[-1][4])
                unheld_grew = f"{unheld * per_row:.1f} bytes"
                dicts_grew = f"{(dicts_peak - rss[-1][3]) * per_row:.1f} bytes"
            rss.append((rows, base, peak, dicts_peak, held))
            say(
                f"| {rows:,} | {path.stat().st_size / 2**20:.0f} | {base:.0f} MiB | "
                f"**{peak:.0f} MiB** | {grew} | {held:.1f} MiB | {unheld_grew} | "
                f"{epochs} | {first:.0f} -> {last:.0f} | {dicts_peak:.0f} MiB | "
                f"{dicts_grew} |"
            )
    (RESULTS / "sqlite_defaults.md").write_text(out.getvalue())
    plot(timed, rss)


def plot(timed, rss):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for rows in sorted({r["rows"] for r in timed}):
        points = sorted(
            (r["cache_mib"], r["ratio"]) for r in timed if r["rows"] == rows
        )
        left.plot(*zip(*points, strict=True), "o-", label=f"{rows:,} rows")
    left.axhline(1.5, color="grey", linestyle="--", label="target 1.5x")
    left.set(xlabel="block cache (MiB)", ylabel="SQLite fit / in-memory fit",
             title="Fit time, defaults, 3 epochs")  # fmt: skip
    left.legend()
    if rss:
        rows, base, peak, dicts_peak, held = zip(*rss, strict=True)
        right.plot(rows, peak, "o-", label="peak RSS")
        right.plot(rows, dicts_peak, "^:", label="peak RSS, batch records as dicts")
        right.plot(rows, base, "s--", label="after imports")
        right.plot(rows, np.subtract(peak, held), "v-.",
                   label="peak RSS less the positives held")  # fmt: skip
        right.set(xlabel="rows in the database", ylabel="MiB",
                  title="Peak RSS of a fit on SQLite")  # fmt: skip
        right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "sqlite_defaults.png", dpi=110)


if __name__ == "__main__":
    main()
