"""Quick start: train on 1%-positive data and compare with an unweighted baseline.

python examples/quickstart.py
"""

from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skimb import ImbalancedNetClassifier


def evaluate(clf, X_test, y_test):
    proba = clf.predict_proba(X_test)[:, 1]
    return (
        roc_auc_score(y_test, proba),
        average_precision_score(y_test, proba),
        f1_score(y_test, clf.predict(X_test)),
    )


def main():
    X, y = make_classification(
        n_samples=30_000,
        n_features=20,
        n_informative=6,
        weights=[0.99],
        class_sep=1.0,
        flip_y=0.0,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    print(
        f"{len(y_train)} training rows, {y_train.sum()} positives "
        f"({y_train.mean():.1%})\n"
    )

    print("skimb: pos_weight='balanced', batch_balanced sampler, linear schedule")
    skimb = ImbalancedNetClassifier(
        max_epochs=12,
        sampler="batch_balanced",
        sampler__pos_per_batch=4,
        weight_schedule="linear",
        random_state=0,
    ).fit(X_train, y_train)
    baseline = ImbalancedNetClassifier(
        pos_weight=None, max_epochs=12, random_state=0, verbose=0
    ).fit(X_train, y_train)

    print("\n| model | ROC-AUC | AP | F1 |\n|---|---|---|---|")
    for name, clf in [("unweighted BCE", baseline), ("skimb", skimb)]:
        auc, ap, f1 = evaluate(clf, X_test, y_test)
        print(f"| {name} | {auc:.3f} | {ap:.3f} | {f1:.3f} |")


if __name__ == "__main__":
    main()
