"""Quick start: skimb's defaults against what you would otherwise reach for.

20,000 rows with 1% positives and features on raw scales (no scaler needed for
skimb); a held-out 30% test set. Compared with: logistic regression with balanced
class weights, SMOTE + a hand-written skorch MLP, and LightGBM when installed.

    python examples/quickstart.py           # about half a minute on 2 cores
    python examples/quickstart.py --quick   # a smaller data set (CI)
"""

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skimb import ImbalancedNetClassifier


def make_data(n_samples):
    X, y = make_classification(
        n_samples=n_samples, n_features=20, n_informative=6, weights=[0.99],
        class_sep=1.0, flip_y=0.0, random_state=0,
    )  # fmt: skip
    # measured quantities come on their own scales
    scales = 10 ** np.random.default_rng(0).uniform(-2, 3, X.shape[1])
    return X * scales, y


def plain_skorch_mlp(n_features):
    """The network a user writes by hand: 64-64 ReLU, Adam, 30 epochs, batch 128."""
    from skorch import NeuralNetBinaryClassifier

    module = torch.nn.Sequential(
        torch.nn.Linear(n_features, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1),
    )  # fmt: skip
    return NeuralNetBinaryClassifier(
        module, max_epochs=30, batch_size=128, optimizer=torch.optim.Adam,
        lr=1e-3, train_split=None, verbose=0, iterator_train__shuffle=True,
    )  # fmt: skip


def models(n_features):
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline as imb_pipeline
    from sklearn.preprocessing import FunctionTransformer

    float32 = FunctionTransformer(lambda X: np.asarray(X, np.float32))
    yield "skimb defaults", ImbalancedNetClassifier(random_state=0, verbose=0)
    yield (
        "LogisticRegression(balanced)",
        make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)
        ),
    )
    yield (
        "SMOTE + skorch MLP",
        imb_pipeline(
            StandardScaler(),
            SMOTE(random_state=0),
            float32,
            plain_skorch_mlp(n_features),
        ),
    )
    try:
        from lightgbm import LGBMClassifier
    except ImportError:
        return
    yield "LightGBM", LGBMClassifier(n_estimators=300, verbose=-1, random_state=0)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 rows")
    args = parser.parse_args(argv)
    X, y = make_data(5_000 if args.quick else 20_000)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    share = f"{y_train.mean():.1%}"
    print(f"{len(y_train)} training rows, {y_train.sum()} positives ({share})")
    print(
        "\n| model | ROC-AUC | AP | F1 | log loss | fit s |\n|---|---|---|---|---|---|"
    )
    for name, model in models(X.shape[1]):
        start = time.perf_counter()
        model.fit(X_train, y_train.astype(np.float32) if "SMOTE" in name else y_train)
        fit_s = time.perf_counter() - start
        proba = model.predict_proba(X_test)[:, 1]
        predicted = model.predict(X_test).astype(int)
        print(
            f"| {name} | {roc_auc_score(y_test, proba):.3f} | "
            f"{average_precision_score(y_test, proba):.3f} | "
            f"{f1_score(y_test, predicted):.3f} | "
            f"{log_loss(y_test, np.clip(proba, 1e-7, 1 - 1e-7)):.4f} | {fit_s:.1f} |"
        )
        if name == "skimb defaults":
            skimb = model
    if skimb.n_bags_ > 1:
        bag = skimb.module_
        kept = f"{skimb.n_bags_} networks (bagging), kept epochs {skimb.best_epochs_}"
        shifts = ", ".join(f"{s:.2f}" for s in bag.logit_shifts.tolist())
        undone = f"each network's logit shift ({shifts})"
    else:
        kept = f"kept epoch {skimb.best_epoch_} of {len(skimb.history)}"
        undone = f"logit_shift_={skimb.logit_shift_:.2f}"
    print(
        f"\nskimb chose batch_size={skimb.batch_size_}, "
        f"max_epochs={skimb.max_epochs_}; {kept}; "
        f"threshold_={skimb.threshold_:.3f}; pos_weight_={skimb.pos_weight_:.1f}, "
        f"undone in predict_proba ({undone})"
    )


if __name__ == "__main__":
    main()
