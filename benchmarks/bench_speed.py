"""Epoch time: hand-written PyTorch loop vs skimb vs plain skorch, same module and data.

    python benchmarks/bench_speed.py [--rows 300000] [--epochs 3] [--repeats 3]
                                     [--threads 1 2] [--device cpu|cuda]

In one run, for each thread count and batch size (256, 2048), median of ``--repeats``
interleaved runs:

* the hand-written loop (shuffled index tensor, one indexing op per batch) and
  skimb with ``train_split=None``;
* the hand-written loop plus, each epoch, one pass over a stratified 20% validation
  split and its average precision, against skimb with its default validation split
  and scorers (``valid_loss``, ROC-AUC, AP, F1, log loss, best-epoch selection and
  the threshold tuned at the end);
* plain skorch (``NeuralNetBinaryClassifier``, its default ``Dataset``);
* a one-layer model (logistic regression) in the hand-written loop and in skimb, to
  expose skimb's pure per-batch overhead in microseconds.

skimb runs with ``pos_weight=None`` and ``scaling=None`` so that the arithmetic is the
hand-written loop's. Prints a Markdown table; ratios are to the hand-written loop of
the same setting. With ``--device cuda``, the data are kept on the GPU on both sides.
"""

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from skorch import NeuralNetBinaryClassifier
from torch import nn

from skimb import ImbalancedNetClassifier
from skimb.modules import MLP


def make_data(rows, features=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    logits = X[:, :4].sum(1) - 4.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return X, y


def module(input_dim, tiny):
    return MLP(input_dim, hidden_units=()) if tiny else MLP(input_dim)


def hand_written(X, y, batch_size, epochs, device, tiny=False, validate=False):
    torch.manual_seed(0)
    if validate:
        X, X_valid, y, y_valid = train_test_split(
            X, y, test_size=0.2, stratify=y, random_state=0
        )
        Xv = torch.from_numpy(X_valid).to(device)
    model = module(X.shape[1], tiny).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    _sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(Xt), device=device)
        for i in range(0, len(Xt), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        if validate:
            model.eval()
            with torch.no_grad():
                logits = torch.cat(
                    [model(Xv[i : i + 1024]) for i in range(0, len(Xv), 1024)]
                )
            average_precision_score(y_valid, logits.cpu().numpy())
    _sync(device)
    return (time.perf_counter() - start) / epochs


def skimb(X, y, batch_size, epochs, device, tiny=False, validate=False):
    net = ImbalancedNetClassifier(
        module__hidden_units=() if tiny else (64, 32),
        batch_size=batch_size,
        max_epochs=epochs,
        pos_weight=None,
        scaling=None,
        verbose=0,
        random_state=0,
        device=device,
        dataset__device="auto",
        **({} if validate else {"train_split": None}),
    )
    return _timed_fit(net, X, y, epochs, device)


def plain_skorch(X, y, batch_size, epochs, device):
    torch.manual_seed(0)
    net = NeuralNetBinaryClassifier(
        MLP, module__input_dim=X.shape[1], optimizer=torch.optim.Adam, lr=1e-3,
        batch_size=batch_size, max_epochs=epochs, train_split=None, verbose=0,
        iterator_train__shuffle=True, device=device,
    )  # fmt: skip
    return _timed_fit(net, X, y, epochs, device)


def _timed_fit(net, X, y, epochs, device):
    _sync(device)
    start = time.perf_counter()
    net.fit(X, y)
    _sync(device)
    return (time.perf_counter() - start) / epochs


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_of(repeats, runs):
    """Run every callable of ``runs`` ``repeats`` times, interleaved; medians."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(run())
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 2048])
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--no-skorch", action="store_true", help="skip plain skorch")
    args = parser.parse_args(argv)
    X, y = make_data(args.rows)
    name = torch.cuda.get_device_name() if args.device != "cpu" else "CPU"
    skimb(X[:5000], y[:5000], 256, 1, args.device)  # warm up imports and kernels
    print(
        f"`python benchmarks/bench_speed.py`: {args.rows:,} x {X.shape[1]} float32, "
        f"{args.epochs} epochs, median of {args.repeats}, device {name}, "
        f"torch {torch.__version__}\n"
    )
    print(
        "| threads | batch | hand-written s/epoch | skimb, no split | ratio | "
        "hand-written + validation + AP | skimb defaults (split, scorers, "
        "selection) | ratio | plain skorch | skimb / plain skorch | "
        "per-batch overhead (1-layer model) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch_sizes:
            a = (X, y, batch, args.epochs, args.device)
            runs = {
                "hw": lambda a=a: hand_written(*a),
                "skimb": lambda a=a: skimb(*a),
                "hw_valid": lambda a=a: hand_written(*a, validate=True),
                "skimb_valid": lambda a=a: skimb(*a, validate=True),
                "hw_tiny": lambda a=a: hand_written(*a, tiny=True),
                "skimb_tiny": lambda a=a: skimb(*a, tiny=True),
            }
            if not args.no_skorch:
                runs["skorch"] = lambda a=a: plain_skorch(*a)
            t = median_of(args.repeats, runs)
            n_batches = -(-args.rows // batch)
            overhead_us = (t["skimb_tiny"] - t["hw_tiny"]) / n_batches * 1e6
            skorch = t.get("skorch", float("nan"))
            print(
                f"| {threads} | {batch} | {t['hw']:.3f} | {t['skimb']:.3f} | "
                f"{t['skimb'] / t['hw']:.2f}x | {t['hw_valid']:.3f} | "
                f"{t['skimb_valid']:.3f} | {t['skimb_valid'] / t['hw_valid']:.2f}x | "
                f"{skorch:.3f} | {t['skimb'] / skorch:.2f}x | {overhead_us:.0f} us |"
            )


if __name__ == "__main__":
    main()
