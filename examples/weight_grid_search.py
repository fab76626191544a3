"""How sensitive is average precision to the positive weight? A GridSearchCV answer.

    python examples/weight_grid_search.py

Searches pos_weight in [1, 5, 10, 50, 100, 200] with AP as the score and saves the
sensitivity curve (validation AP against the weight, log axis) to
examples/weight_sensitivity.png.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skimb import ImbalancedNetClassifier  # noqa: E402

WEIGHTS = [1.0, 5.0, 10.0, 50.0, 100.0, 200.0]


def main():
    X, y = make_classification(
        20_000,
        n_features=20,
        n_informative=6,
        weights=[0.99],
        flip_y=0.0,
        random_state=0,
    )
    pipeline = make_pipeline(
        StandardScaler(),
        ImbalancedNetClassifier(max_epochs=10, verbose=0, random_state=0),
    )
    grid = GridSearchCV(
        pipeline,
        {"imbalancednetclassifier__pos_weight": WEIGHTS},
        scoring="average_precision",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    mean = grid.cv_results_["mean_test_score"]
    std = grid.cv_results_["std_test_score"]
    print("| pos_weight | mean AP | std |\n|---|---|---|")
    for w, m, s in zip(WEIGHTS, mean, std, strict=True):
        print(f"| {w:g} | {m:.3f} | {s:.3f} |")
    print(
        f"\nbest: {grid.best_params_}  (balanced would be "
        f"{(y == 0).sum() / y.sum():.0f})"
    )

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(WEIGHTS, mean, yerr=std, marker="o", capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("pos_weight (log scale)")
    ax.set_ylabel("validation average precision (3-fold CV)")
    ax.set_title("Sensitivity of AP to the positive weight, 1% positives")
    fig.tight_layout()
    out = Path(__file__).with_name("weight_sensitivity.png")
    fig.savefig(out, dpi=90)
    print(f"saved {out}")
    return np.asarray(mean)


if __name__ == "__main__":
    main()
