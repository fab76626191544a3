"""Search skimb's class-weight and loss settings on a Dask cluster.

Runs as written on a local cluster of two worker processes:

    pip install "skimb[dask]"
    python examples/dask_search.py

On a real cluster, replace the LocalCluster with the scheduler's address,
``Client("tcp://scheduler:8786")``; every worker needs skimb installed, and, for a
SQLiteDataset, the database path readable at the same path (a shared file system):
each worker opens its own read-only connection, the rows are never shipped.
"""

from distributed import Client, LocalCluster
from joblib import parallel_config
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from skimb import ImbalancedNetClassifier


def main():
    X, y = make_classification(20_000, 20, weights=[0.98], random_state=0)
    search = GridSearchCV(
        ImbalancedNetClassifier(max_epochs=10, verbose=0, random_state=0),
        {"pos_weight": ["balanced", "sqrt", None], "loss": ["bce", "focal"]},
        scoring="average_precision",
        cv=3,
    )
    # One worker process per core, one thread each: torch in every worker uses
    # the thread it was given, so the fits do not fight over the cores.
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        with parallel_config(backend="dask"):
            search.fit(X, y)
    print(f"best: {search.best_params_}  AP {search.best_score_:.3f}")


if __name__ == "__main__":  # worker processes import this file
    main()
