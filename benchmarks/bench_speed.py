"""Epoch time: hand-written PyTorch loop vs plain skorch vs skimb, same module and data.

    python benchmarks/bench_speed.py [--rows 300000] [--epochs 2] [--device cpu|cuda]

Prints a Markdown table of seconds per epoch and ratios to the hand-written loop,
measured in the same run. With --device cuda it adds skimb with the data kept on the
GPU (``dataset__device="auto"``).
"""

import argparse
import time

import numpy as np
import torch
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


def hand_written(X, y, batch_size, epochs, device):
    torch.manual_seed(0)
    model = MLP(X.shape[1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch_size):
            idx = order[i : i + batch_size]
            xb = Xt[idx].to(device, non_blocking=True)
            yb = yt[idx].to(device, non_blocking=True)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    if device != "cpu":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / epochs


def timed_fit(net, X, y, epochs):
    start = time.perf_counter()
    net.fit(X, y)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / epochs


def plain_skorch(X, y, batch_size, epochs, device):
    torch.manual_seed(0)
    net = NeuralNetBinaryClassifier(
        MLP,
        module__input_dim=X.shape[1],
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        verbose=0,
        iterator_train__shuffle=True,
        device=device,
    )
    return timed_fit(net, X, y, epochs)


def skimb(X, y, batch_size, epochs, device, **params):
    net = ImbalancedNetClassifier(
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        verbose=0,
        pos_weight=None,
        random_state=0,
        device=device,
        **params,
    )
    return timed_fit(net, X, y, epochs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    args = parser.parse_args()
    X, y = make_data(args.rows)
    name = torch.cuda.get_device_name() if args.device != "cpu" else "CPU"
    print(
        f"{args.rows} x {X.shape[1]} float32, {args.epochs} epochs, device {name}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(
        "| batch size | hand-written s/epoch | plain skorch s/epoch | skimb s/epoch "
        "| skimb / hand-written | skimb / plain skorch |"
    )
    print("|---|---|---|---|---|---|")
    for batch_size in (256, 2048):
        base = hand_written(X, y, batch_size, args.epochs, args.device)
        plain = plain_skorch(X, y, batch_size, args.epochs, args.device)
        ours = skimb(X, y, batch_size, args.epochs, args.device)
        print(
            f"| {batch_size} | {base:.2f} | {plain:.2f} | {ours:.2f} | "
            f"{ours / base:.2f}x | {ours / plain:.2f}x |"
        )
        if args.device != "cpu":
            on_gpu = skimb(
                X, y, batch_size, args.epochs, args.device, dataset__device="auto"
            )
            print(
                f"| {batch_size} (data on GPU) | {base:.2f} | {plain:.2f} | "
                f"{on_gpu:.2f} | {on_gpu / base:.2f}x | {on_gpu / plain:.2f}x |"
            )


if __name__ == "__main__":
    main()
