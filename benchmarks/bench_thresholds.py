"""Which rule should ``threshold="f1"`` use? Test-fold F1 of candidate rules, one fit.

For each set and fold of ``bench_quality.py`` one skimb model is fitted (defaults);
every rule then picks a threshold from that model's predictions and is scored on the
same test fold:

* ``valid_labels``: the F1-optimal threshold on the validation rows (hard labels);
* ``train_valid_labels``: the same on training and validation rows together;
* ``valid_expected``: the threshold maximising the *expected* F1 under the model's own
  (prior-corrected) probabilities of the validation rows, no labels used;
* ``mean_labels_expected``: the mean of ``valid_labels`` and ``valid_expected``
  (what skimb's ``threshold="f1"`` does);
* ``half``: 0.5 on the corrected probabilities.

    python benchmarks/bench_thresholds.py [--quick]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quality import KEEL_SETS, QUICK_SETS, folds, load_set  # noqa: E402


def run_one(set_name, fold, train, test):
    import torch
    from sklearn.metrics import f1_score

    from skimb import ImbalancedNetClassifier
    from skimb.thresholds import expected_f1_threshold, f1_optimal_threshold

    torch.set_num_threads(1)
    X, y = load_set(set_name)
    clf = ImbalancedNetClassifier(random_state=fold, verbose=0, device="cpu")
    clf.fit(X[train], y[train])
    y01 = (y[train] == clf.classes_[1]).astype(np.float32)
    _, valid = clf.train_split(clf.get_dataset(X[train], y01), y01)
    rows = np.sort(np.asarray(valid.indices))
    p_valid = clf.predict_proba(X[train][rows])[:, 1]
    p_train = clf.predict_proba(X[train])[:, 1]
    p_test = clf.predict_proba(X[test])[:, 1]
    rules = {
        "valid_labels": f1_optimal_threshold(y01[rows], p_valid),
        "train_valid_labels": f1_optimal_threshold(y01, p_train),
        "valid_expected": expected_f1_threshold(p_valid),
        "half": 0.5,
    }
    rules["mean_labels_expected"] = (
        rules["valid_labels"] + rules["valid_expected"]
    ) / 2
    assert abs(rules["mean_labels_expected"] - clf.threshold_) < 1e-6
    return {
        "set": set_name,
        **{
            k: f1_score(y[test], p_test > t, zero_division=0.0)
            for k, t in rules.items()
        },
    }


def main(argv=None):
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sets = QUICK_SETS if args.quick else KEEL_SETS
    repeats = 1 if args.quick else 2
    tasks = [
        (s, i, tr, te) for s in sets for i, (tr, te) in enumerate(folds(s, 5, repeats))
    ]
    rows = Parallel(n_jobs=2)(delayed(run_one)(*t) for t in tasks)
    rules = [k for k in rows[0] if k != "set"]
    per_set = {s: {k: np.mean([r[k] for r in rows if r["set"] == s]) for k in rules}
               for s in sets}  # fmt: skip
    print(f"`python benchmarks/bench_thresholds.py {' '.join(argv or sys.argv[1:])}`\n")
    print("| rule | mean test F1 | sets where best |\n|---|---|---|")
    for k in rules:
        mean = np.mean([per_set[s][k] for s in sets])
        wins = sum(per_set[s][k] == max(per_set[s].values()) for s in sets)
        print(f"| {k} | {mean:.3f} | {wins} |")


if __name__ == "__main__":
    main()
