"""What the block cache's size buys a ParquetDataset fit, against the in-memory fit.

The 1,000,000 rows of ``bench_parquet.py`` (64 float32 features, 1% positives,
64k-row row groups; its data files, written once), a default fit
(``max_epochs=3``) in memory and on ``ParquetDataset(path, cache_mib=c)`` for each
``c``, each against the in-memory fit of the same seed (median over ``--seeds``).
Prints a Markdown table, writes benchmarks/results/parquet_cache.md and .png.

    python benchmarks/bench_parquet_cache.py [--cache-mib 64 128 256] [--seeds 3]
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_parquet as base  # noqa: E402

from skimb import ParquetDataset, SQLiteDataset  # noqa: E402

ROWS = 1_000_000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-mib", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    db, paths = base.make_files(ROWS)
    path = paths["parquet, 64k row groups"]
    X = np.concatenate([X for X, _ in base.make_rows(ROWS, 0)])
    y = SQLiteDataset(db).labels
    base.fit(X[:30_000], y[:30_000], 0)  # warm-up
    ratios = {c: [] for c in args.cache_mib}
    for seed in range(args.seeds):
        _, in_memory = base.fit(X, y, seed)
        for c in args.cache_mib:
            _, seconds = base.fit(ParquetDataset(path, cache_mib=c), None, seed)
            ratios[c].append(seconds / in_memory)
    lines = [
        f"`python benchmarks/bench_parquet_cache.py {' '.join(argv or sys.argv[1:])}`"
        f": {ROWS:,} rows, 64k row groups, defaults with max_epochs=3; median over "
        f"{args.seeds} seeds of each fit / the in-memory fit of the same seed\n",
        "| cache_mib | / in memory |",
        "|---|---|",
        *(f"| {c} | **{statistics.median(r):.2f}x** |" for c, r in ratios.items()),
    ]
    print("\n".join(lines))
    (base.RESULTS / "parquet_cache.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar([str(c) for c in ratios], [statistics.median(r) for r in ratios.values()])
    ax.axhline(1.3, color="grey", linestyle="--", label="target 1.3x")
    ax.set(xlabel="cache_mib", ylabel="fit time / in-memory fit")
    ax.legend()
    fig.tight_layout()
    fig.savefig(base.RESULTS / "parquet_cache.png", dpi=110)


if __name__ == "__main__":
    main()
