"""Plots of a fit: training history, precision-recall with the tuned threshold, and
calibration with and without prior correction.

    python examples/plots.py      # writes examples/history.png, precision_recall.png,
                                  # calibration.png (needs matplotlib: skimb[plots])
"""

from pathlib import Path

import matplotlib.pyplot as plt
from quickstart import make_data
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import PrecisionRecallDisplay, precision_score, recall_score
from sklearn.model_selection import train_test_split

from skimb import HistoryDisplay, ImbalancedNetClassifier

HERE = Path(__file__).parent


def main():
    X, y = make_data(20_000)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    clf = ImbalancedNetClassifier(random_state=0, verbose=0).fit(X_train, y_train)
    raw = ImbalancedNetClassifier(prior_correction=False, random_state=0, verbose=0)
    raw.fit(X_train, y_train)

    HistoryDisplay.from_estimator(clf, name="skimb defaults, 1% positives")
    plt.savefig(HERE / "history.png", dpi=100, bbox_inches="tight")

    proba = clf.predict_proba(X_test)[:, 1]
    display = PrecisionRecallDisplay.from_predictions(y_test, proba, name="skimb")
    predicted = clf.predict(X_test)
    display.ax_.plot(
        recall_score(y_test, predicted), precision_score(y_test, predicted), "o",
        color="red", label=f"threshold_ = {clf.threshold_:.3f} (predict)",
    )  # fmt: skip
    display.ax_.legend(loc="upper right")
    display.ax_.set_title("Precision-recall on held-out data")
    display.figure_.savefig(HERE / "precision_recall.png", dpi=100, bbox_inches="tight")

    figure, ax = plt.subplots(figsize=(6, 5))
    for model, name in (
        (clf, "prior_correction=True"),
        (raw, "prior_correction=False"),
    ):
        CalibrationDisplay.from_estimator(
            model, X_test, y_test, n_bins=5, strategy="quantile", name=name, ax=ax
        )
    # at 1% positives every bin but the last sits near 0: log axes show them all
    ax.set_xscale("log")
    ax.set_yscale("log")  # bins without a positive drop out of the log axis
    ax.plot([1e-4, 1], [1e-4, 1], "k:", linewidth=1)
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(1e-4, 1)
    ax.set_title("Calibration on held-out data (1% positives, log axes)")
    figure.savefig(HERE / "calibration.png", dpi=100, bbox_inches="tight")
    print(
        "wrote",
        ", ".join(
            str(HERE / n)
            for n in ("history.png", "precision_recall.png", "calibration.png")
        ),
    )


if __name__ == "__main__":
    main()
