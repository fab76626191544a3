"""Weighting, loss, schedule and sampler strategies vs SMOTE and logistic regression.

    python benchmarks/bench_strategies.py [--rows 10000] [--epochs 10] [--repeats 1]

Data: make_classification at 10%, 1% and 0.2% positives, and load_digits one-vs-rest
(digit 0, 10%). Repeated stratified 3-fold CV of each strategy on the same MLP; prints a
Markdown table of mean AP, ROC-AUC, F1 and fit time per data set, saves
benchmarks/results/strategies.png, then measures the per-row sampling overhead of each
sampler as a ratio to shuffle=True.
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from imblearn.over_sampling import SMOTE  # noqa: E402
from imblearn.pipeline import make_pipeline  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold, cross_validate  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from skimb import ImbalancedNetClassifier, effective_number  # noqa: E402
from skimb.data import ArrayDataset, collate  # noqa: E402
from skimb.samplers import SAMPLERS  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def make_datasets(rows):
    sets = {}
    for rate in (0.10, 0.01, 0.002):
        X, y = make_classification(
            rows,
            n_features=20,
            n_informative=6,
            weights=[1 - rate],
            flip_y=0.0,
            class_sep=1.0,
            random_state=0,
        )
        sets[f"synthetic {rate:.1%}"] = (X, y)
    digits = load_digits()
    sets["digits 0-vs-rest"] = (digits.data / 16.0, (digits.target == 0).astype(int))
    return sets


def strategies(epochs):
    def net(**params):
        return make_pipeline(
            StandardScaler(),
            ImbalancedNetClassifier(
                max_epochs=epochs, verbose=0, random_state=0, **params
            ),
        )

    return {
        "unweighted BCE": net(pos_weight=None),
        "balanced": net(),
        "sqrt": net(pos_weight="sqrt"),
        "effective number": net(pos_weight=effective_number(0.999)),
        "focal": net(loss="focal", pos_weight=None),
        "balanced + linear": net(weight_schedule="linear"),
        "balanced + plateau": net(weight_schedule="plateau", pos_weight="sqrt"),
        "balanced + deferred": net(weight_schedule="deferred"),
        "batch_balanced": net(sampler="batch_balanced", sampler__pos_per_batch=4),
        "weighted": net(sampler="weighted"),
        "undersample": net(sampler="undersample", sampler__ratio=4.0),
        "oversample": net(sampler="oversample"),
        "SMOTE + net": make_pipeline(
            StandardScaler(),
            SMOTE(random_state=0),
            ImbalancedNetClassifier(
                max_epochs=epochs, pos_weight=None, verbose=0, random_state=0
            ),
        ),
        "LogReg balanced": make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)
        ),
    }


def evaluate(datasets, models, repeats):
    cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=repeats, random_state=0)
    table = {}
    for data_name, (X, y) in datasets.items():
        for model_name, model in models.items():
            scores = cross_validate(
                model, X, y, cv=cv, scoring=["average_precision", "roc_auc", "f1"]
            )
            table[data_name, model_name] = {
                "AP": scores["test_average_precision"].mean(),
                "ROC-AUC": scores["test_roc_auc"].mean(),
                "F1": scores["test_f1"].mean(),
                "fit s": scores["fit_time"].mean(),
            }
    return table


def print_table(table, datasets, models):
    for data_name in datasets:
        print(f"\n**{data_name}**\n")
        print("| strategy | AP | ROC-AUC | F1 | fit s |\n|---|---|---|---|---|")
        for model_name in models:
            r = table[data_name, model_name]
            print(
                f"| {model_name} | {r['AP']:.3f} | {r['ROC-AUC']:.3f} | "
                f"{r['F1']:.3f} | {r['fit s']:.2f} |"
            )


def plot(table, datasets, models):
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(4.5 * len(datasets), 5), sharey=True
    )
    names = list(models)
    for ax, data_name in zip(axes, datasets, strict=True):
        ap = [table[data_name, m]["AP"] for m in names]
        ax.barh(
            names,
            ap,
            color=[
                "tab:gray" if "LogReg" in m or "SMOTE" in m else "tab:blue"
                for m in names
            ],
        )
        ax.set_title(data_name)
        ax.set_xlabel("mean average precision (CV)")
        ax.invert_yaxis()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "strategies.png", dpi=90)


def sampling_overhead(rows=200_000, batch_size=256, repeats=3):
    """Seconds per row drawn, each sampler vs shuffle=True, data loading only."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 32)).astype(np.float32)
    y = (rng.random(rows) < 0.01).astype(np.float32)
    dataset = ArrayDataset(X, y)

    def per_row(**loader_kwargs):
        best = np.inf
        for _ in range(repeats):
            start, n = time.perf_counter(), 0
            for xb, _ in DataLoader(dataset, collate_fn=collate, **loader_kwargs):
                n += len(xb)
            best = min(best, (time.perf_counter() - start) / n)
        return best

    base = per_row(batch_size=batch_size, shuffle=True)
    print(
        f"\nSampling overhead, {rows:,} rows at 1% positives, batch {batch_size}, "
        "data loading only (best of 3)\n"
    )
    print("| sampler | µs per row | ratio to shuffle=True |\n|---|---|---|")
    print(f"| shuffle=True | {base * 1e6:.2f} | 1.00x |")
    for name, cls in SAMPLERS.items():
        if name == "batch_balanced":
            t = per_row(batch_sampler=cls(y, batch_size, seed=0))
        else:
            t = per_row(sampler=cls(y, seed=0), batch_size=batch_size)
        print(f"| {name} | {t * 1e6:.2f} | {t / base:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    datasets, models = make_datasets(args.rows), strategies(args.epochs)
    print(
        f"{args.rows} rows per synthetic set, {args.epochs} epochs, 3-fold CV x "
        f"{args.repeats} repeat(s)"
    )
    table = evaluate(datasets, models, args.repeats)
    print_table(table, datasets, models)
    plot(table, datasets, models)
    sampling_overhead()


if __name__ == "__main__":
    main()
