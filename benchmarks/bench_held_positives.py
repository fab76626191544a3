"""Training positives past the 16 MiB cap: held up to it vs not held at all.

A fit on a ``SQLiteDataset`` holds its training positives in memory
(``skimb.data.rows.hold_rare_rows``), which the block shuffle spreads over every
epoch and would otherwise read by key each time. When they take more than
``HELD_RARE_MIB`` (16 MiB), this release holds the first 16 MiB of them; the one
before held none. Both are timed here on the same database, each fit of the
current rule against the old rule's fit just before it (this machine's speed
drifts), with the defaults and ``max_epochs=3``, ``num_workers=0``.

    python benchmarks/bench_held_positives.py [--rows 8000000] [--seeds 3]

Writes benchmarks/results/held_positives.md.
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sqlite import RESULTS, make_db  # noqa: E402

import skimb.training.plan  # noqa: E402
from skimb import ImbalancedNetClassifier, SQLiteDataset  # noqa: E402
from skimb.data import rows  # noqa: E402

HOLD_UP_TO_THE_CAP = rows.hold_rare_rows


def hold_all_or_none(dataset, labels):
    """The previous release's rule: the rarer class held only when all of it fits."""
    root, _ = rows.root_and_rows(dataset)
    labels = np.asarray(labels)
    positives = rows.count_equal(labels, 1)
    rare = min(positives, labels.size - positives)
    if rare * rows.dataset_width(root) * 4 > rows.HELD_RARE_MIB * 2**20:
        root.hold_rows(None)
    else:
        HOLD_UP_TO_THE_CAP(dataset, labels)


def timed_fit(path, seed, rule):
    skimb.training.plan.hold_rare_rows = rule
    ds = SQLiteDataset(path)
    start = time.perf_counter()
    clf = ImbalancedNetClassifier(max_epochs=3, random_state=seed, verbose=0)
    clf.fit(ds, None)
    held = 0.0 if ds._held is None else ds._held.features.nbytes / 2**20
    return time.perf_counter() - start, held


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    path, _ = make_db(args.rows, args.features)
    out = io.StringIO()

    def say(line=""):
        print(line, flush=True)
        out.write(line + "\n")

    say(f"`python benchmarks/bench_held_positives.py {' '.join(argv or sys.argv[1:])}`"
        f": {args.rows:,} rows x {args.features} float32 features (1.7% positives), "
        f"defaults with max_epochs=3, {torch.get_num_threads()} threads\n")  # fmt: skip
    say("| seed | none held s | up to the cap s | held MiB | ratio |")
    say("|---|---|---|---|---|")
    ratios = []
    for seed in range(args.seeds):
        old, _ = timed_fit(path, seed, hold_all_or_none)
        new, held = timed_fit(path, seed, HOLD_UP_TO_THE_CAP)
        ratios.append(new / old)
        say(f"| {seed} | {old:.1f} | {new:.1f} | {held:.1f} | {new / old:.2f}x |")
    say(f"\nMedian ratio (held up to the cap / none held): "
        f"**{np.median(ratios):.2f}x**")  # fmt: skip
    (RESULTS / "held_positives.md").write_text(out.getvalue())


if __name__ == "__main__":
    main()
