"""Scale-out benchmark: one GridSearchCV run serially, on joblib's loky workers and
on a Dask LocalCluster; and the memory a Dask worker needs for a SQLiteDataset.

    pip install -e ".[dask]"
    python benchmarks/bench_scale.py            # ~5 minutes on 2 cores

The search: 4 candidates (pos_weight x loss) x 2 folds = 8 fits of ~2 s each on
30,000 rows. ``n_jobs=1`` runs in this process (torch with all cores); ``n_jobs=2``
on loky workers (one core each); Dask on ``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)``. "cold" is the first search on fresh
workers (they start and import torch), "warm" the second. Speed-ups are against
``n_jobs=1`` in the same run. Memory: peak RSS of each Dask worker after a
cross-validation on a SQLiteDataset of 30,000 and of 300,000 rows (and on an
array of 300,000 rows for contrast): flat for SQLite, since each worker opens
the file itself and the data are never copied to it.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
GRID = {"pos_weight": ["balanced", "sqrt"], "loss": ["bce", "focal"]}


def data(n, seed=0):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n, 20, n_informative=8, weights=[0.98], flip_y=0.0, random_state=seed
    )
    return X.astype(np.float32), y


def search(n_jobs=None, epochs=6):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skimb import ImbalancedNetClassifier

    net = ImbalancedNetClassifier(
        max_epochs=epochs, batch_size=256, verbose=0, random_state=0
    )
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    return GridSearchCV(net, GRID, cv=cv, scoring="average_precision", n_jobs=n_jobs)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    from distributed import Client, LocalCluster
    from joblib import parallel_config
    from joblib.externals.loky import get_reusable_executor

    X, y = data(30_000)
    search(epochs=1).fit(X[:2000], y[:2000])  # imports and first-call costs here
    rows = []
    serial, fitted = timed(lambda: search(n_jobs=1).fit(X, y))
    score = fitted.best_score_
    rows.append(("n_jobs=1 (this process, torch on all cores)", serial, score))
    get_reusable_executor().shutdown(wait=True)  # fresh loky workers: a cold call
    for label in ("cold", "warm"):
        seconds, fitted = timed(lambda: search(n_jobs=2).fit(X, y))
        rows.append((f"n_jobs=2, loky, {label}", seconds, fitted.best_score_))
    start_s, cluster = timed(
        lambda: LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    )
    with cluster, Client(cluster) as client:
        for label in ("cold", "warm"):
            with parallel_config(backend="dask"):
                seconds, fitted = timed(lambda: search().fit(X, y))
            rows.append(
                (f"Dask LocalCluster 2x1, {label}", seconds, fitted.best_score_)
            )
        memory = worker_memory(client)

    lines = [
        "| search (8 fits, 30,000 rows) | wall s | speed-up vs n_jobs=1 | best AP |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {s:.1f} | {serial / s:.2f}x | {a:.4f} |" for n, s, a in rows]
    lines += [
        "",
        f"Dask LocalCluster start-up (2 worker processes): {start_s:.1f} s",
        "",
    ]
    lines += [
        "| data in a Dask worker (cross_validate, 2 folds) | worker peak RSS MiB |"
    ]
    lines += ["|---|---|"] + [f"| {n} | {m:.0f} |" for n, m in memory]
    header = (
        f"`python benchmarks/bench_scale.py`: {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}\n"
    )
    table = "\n".join(lines)
    print(header)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text(header + "\n" + table + "\n")
    plot(rows, serial, RESULTS / "scale.png")


def worker_memory(client):
    """Peak RSS of the workers (max over the two) after a 2-fold cross-validation on
    each kind of data; workers are restarted in between so each peak is its own."""
    from joblib import parallel_config
    from sklearn.model_selection import cross_validate

    from skimb import ImbalancedNetClassifier
    from skimb.data import SQLiteDataset, write_sqlite

    def cv(X, y):
        net = ImbalancedNetClassifier(max_epochs=1, verbose=0, random_state=0)
        with parallel_config(backend="dask"):
            cross_validate(net, X, y, cv=2, scoring="average_precision")
        return max(client.run(peak_rss_mib).values())

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (30_000, 300_000):
            X, y = data(n, seed=1)
            path = Path(tmp) / f"rows{n}.db"
            write_sqlite(path, X, y)
            client.restart()
            ds = SQLiteDataset(path)
            out.append((f"SQLiteDataset, {n:,} rows", cv(ds, ds.labels)))
        client.restart()
        out.append((f"NumPy array, {n:,} rows ({X.nbytes / 2**20:.0f} MiB)", cv(X, y)))
    return out


def plot(rows, serial, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = [n for n, _, _ in rows]
    speed = [serial / s for _, s, _ in rows]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh(names[::-1], speed[::-1], color="tab:blue")
    ax.axvline(2.0, color="grey", ls="--", lw=1, label="2 cores: the limit")
    ax.set_xlabel("speed-up against n_jobs=1 (same run)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
