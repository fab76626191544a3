"""What ``checkpoint=`` costs: the write after every epoch against the epoch itself.

    python benchmarks/bench_checkpoint.py [--rows 1000000] [--epochs 3] [--repeats 2]

The speed benchmark's data (``bench_speed.make_data``: float32 features, ~2%
positives), a default fit (``bagging=None``, ``random_state=0``) of ``--epochs``
epochs with and without a checkpoint, interleaved, in one run. Per fit: the
median epoch time (skorch's ``dur``, which ends before the checkpoint is
written), the median time of one checkpoint write (``FitCheckpoint.write``:
``torch.save`` of the state, ``fsync``, rename), the fingerprint of the data and
parameters (once per fit), and the whole fit's time against the fit without a
checkpoint. Prints a Markdown table, writes it to
``benchmarks/results/checkpoint.md`` and a PNG beside it.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from skimb import ImbalancedNetClassifier
from skimb import checkpoints as ck

RESULTS = Path(__file__).parent / "results"


def timed(function, log):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            log.append(time.perf_counter() - start)

    return wrapper


def one_fit(X, y, epochs, checkpoint):
    writes, prints = [], []
    original_write, original_print = ck.FitCheckpoint.write, ck.fit_fingerprint
    ck.FitCheckpoint.write = timed(original_write, writes)
    ck.fit_fingerprint = timed(original_print, prints)
    try:
        with tempfile.TemporaryDirectory() as folder:
            clf = ImbalancedNetClassifier(
                random_state=0,
                verbose=0,
                bagging=None,
                max_epochs=epochs,
                checkpoint=folder if checkpoint else None,
            )
            start = time.perf_counter()
            clf.fit(X, y)
            total = time.perf_counter() - start
            size = (
                (Path(folder) / ck.CHECKPOINT_FILE).stat().st_size if checkpoint else 0
            )
    finally:
        ck.FitCheckpoint.write, ck.fit_fingerprint = original_write, original_print
    return {
        "total": total,
        "epoch": statistics.median(clf.history[:, "dur"]),
        "write": statistics.median(writes) if writes else 0.0,
        "fingerprint": prints[0] if prints else 0.0,
        "bytes": size,
        "batch_size": clf.batch_size_,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from bench_speed import make_data

    X, y = make_data(args.rows, args.features)
    runs = {False: [], True: []}
    for _ in range(args.repeats):
        for checkpoint in (False, True):  # interleaved: the machine is noisy
            runs[checkpoint].append(one_fit(X, y, args.epochs, checkpoint))
    plain, with_ck = runs[False], runs[True]
    median = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    epoch, write = median(with_ck, "epoch"), median(with_ck, "write")
    fit_ratio = median(with_ck, "total") / median(plain, "total")
    table = [
        f"`python benchmarks/bench_checkpoint.py --rows {args.rows} --epochs "
        f"{args.epochs} --repeats {args.repeats}` (torch {torch.__version__}, "
        f"{args.threads} thread(s); {args.features} float32 features, batch "
        f"{with_ck[0]['batch_size']}, median of {args.repeats})",
        "",
        "| rows | epoch (s) | checkpoint write (s) | write / epoch "
        "| fingerprint (s, once) | checkpoint file | fit with / without checkpoint |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.rows:,} | {epoch:.2f} | {write:.4f} | {write / epoch:.2%} | "
        f"{median(with_ck, 'fingerprint'):.3f} | "
        f"{median(with_ck, 'bytes') / 1024:.0f} KiB | {fit_ratio:.3f}x |",
    ]
    text = "\n".join(table)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "checkpoint.md").write_text(text + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(
        ["epoch", "checkpoint write", "fingerprint"],
        [epoch, write, median(with_ck, "fingerprint")],
    )
    ax.set_ylabel("seconds")
    ax.set_title(
        f"checkpoint cost, {args.rows:,} rows (write/epoch {write / epoch:.1%})"
    )
    fig.tight_layout()
    fig.savefig(RESULTS / "checkpoint.png", dpi=120)
    print(
        f"fit times without: {[round(r['total'], 2) for r in plain]}, with: "
        f"{[round(r['total'], 2) for r in with_ck]}; "
        f"writes {np.round([r['write'] for r in with_ck], 4).tolist()}"
    )


if __name__ == "__main__":
    main()
