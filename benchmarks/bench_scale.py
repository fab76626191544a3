"""Scale-out benchmark: one GridSearchCV run serially, on joblib's loky workers and
on a Dask LocalCluster; where a cold worker's start-up goes; and the memory a Dask
worker needs for a SQLiteDataset.

    pip install -e ".[dask]"
    python benchmarks/bench_scale.py            # ~8 minutes on 2 cores

The search: 4 candidates (pos_weight x loss) x 2 folds = 8 fits of ~1.5 s each
(30 epochs on 15,000 rows), ``refit=False``. ``n_jobs=1`` runs in this process
(torch on all cores); ``n_jobs=2`` on loky workers (one core each); Dask on
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, with Dask's
default worker environment and with glibc's default ``MALLOC_TRIM_THRESHOLD_``.
"cold" is the first search on fresh workers (they start and import torch), "warm"
the median of the next three (``n_jobs=1``: the median of three). Speed-ups are
against ``n_jobs=1`` in the same run. Memory: peak resident memory (VmHWM) of the
busiest Dask worker after a 2-fold cross-validation on a SQLiteDataset and on an
array of the same rows, at two sizes: each worker opens the file itself, so the
SQLite rows are never shipped to it.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import dask
import numpy as np

RESULTS = Path(__file__).parent / "results"
GRID = {"pos_weight": ["balanced", "sqrt"], "loss": ["bce", "focal"]}


def data(n, seed=0, features=20):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n, features, n_informative=8, weights=[0.98], flip_y=0.0, random_state=seed
    )
    return X.astype(np.float32), y


def search(n_jobs=None, epochs=30):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skimb import ImbalancedNetClassifier

    net = ImbalancedNetClassifier(
        max_epochs=epochs, batch_size=256, verbose=0, random_state=0
    )
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    # refit=False: the refit is one more fit in this process whatever the backend
    return GridSearchCV(
        net, GRID, cv=cv, scoring="average_precision", n_jobs=n_jobs, refit=False
    )


REPEATS = 3  # warm calls: the median of three (the machine is noisy)


def median_of(repeats, fit_search):
    """Median wall seconds of ``repeats`` searches, and the best mean test AP."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fitted = fit_search()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), fitted.cv_results_["mean_test_score"].max()


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mib():
    """This process's peak resident memory (VmHWM: unlike getrusage's ru_maxrss, not
    inherited from the parent that forked a Dask worker)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    from distributed import Client, LocalCluster
    from joblib import parallel_config
    from joblib.externals.loky import get_reusable_executor

    X, y = data(30_000)
    search(epochs=1).fit(X[:2000], y[:2000])  # imports and first-call costs here
    rows = []
    serial, score = median_of(REPEATS, lambda: search(n_jobs=1).fit(X, y))
    rows.append(("n_jobs=1 (this process, torch on all cores)", serial, score))
    get_reusable_executor().shutdown(wait=True)  # fresh loky workers: a cold call
    rows.append(("n_jobs=2, loky, cold", *median_of(1, lambda: search(2).fit(X, y))))
    warm = median_of(REPEATS, lambda: search(n_jobs=2).fit(X, y))
    rows.append(("n_jobs=2, loky, warm", *warm))
    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (glibc hands
    # memory back early), suspected of slowing torch's CPU fits; the second cluster
    # starts its workers with glibc's default to measure it.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    default_malloc = {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    for name, env in (("", environ), (", glibc default trim", default_malloc)):
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            start_s, cluster = timed(
                lambda: LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            )
            with cluster, Client(cluster), parallel_config(backend="dask"):
                for label, repeats in (("cold", 1), ("warm", REPEATS)):
                    result = median_of(repeats, lambda: search().fit(X, y))
                    rows.append((f"Dask LocalCluster 2x1{name}, {label}", *result))

    memory = worker_memory()
    lines = [
        "| search (8 fits, 30,000 rows) | wall s | speed-up vs n_jobs=1 | best AP |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {s:.1f} | {serial / s:.2f}x | {a:.4f} |" for n, s, a in rows]
    lines += [
        "",
        f"Dask LocalCluster start-up (2 worker processes): {start_s:.1f} s",
        "",
        "| a fresh Python process runs | wall s |",
        "|---|---|",
    ]
    lines += [f"| `{code}` | {sec:.2f} |" for code, sec in startup_seconds().items()]
    lines += [
        "",
        "| data in a Dask worker (cross_validate, 2 folds) | worker peak RSS MiB |",
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


def worker_memory():
    """Peak resident memory of the busiest worker of a fresh 2-worker cluster after
    a 2-fold cross-validation, for each kind of data (a fresh cluster each time, so
    each peak is its own)."""
    from distributed import Client, LocalCluster
    from joblib import parallel_config
    from sklearn.model_selection import cross_validate

    from skimb import ImbalancedNetClassifier
    from skimb.data import SQLiteDataset, write_sqlite

    def peak_after_cv(X, y):
        net = ImbalancedNetClassifier(max_epochs=1, verbose=0, random_state=0)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
            parallel_config(backend="dask"),
        ):
            cross_validate(net, X, y, cv=2, scoring="average_precision")
            return max(client.run(peak_rss_mib).values())

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (20_000, 200_000):
            X, y = data(n, seed=1, features=200)
            size = f"{n:,} x 200 ({X.nbytes / 2**20:.0f} MiB as float32)"
            path = Path(tmp) / f"rows{n}.db"
            write_sqlite(path, X, y)
            ds = SQLiteDataset(path)
            out.append((f"SQLiteDataset, {size}", peak_after_cv(ds, ds.labels)))
            out.append((f"NumPy array, {size}", peak_after_cv(X, y)))
    return out


def startup_seconds():
    """Wall seconds of a fresh Python process running each snippet: where a cold
    worker's start-up goes (the last one is torch's first optimizer, which imports
    torch._dynamo, in every process, whatever trains)."""
    import subprocess

    snippets = [
        "pass",
        "import numpy",
        "import torch",
        "import sklearn.model_selection",
        "import skimb",
        "import skimb, torch; torch.optim.Adam(torch.nn.Linear(2, 1).parameters())",
    ]
    times = {}
    for code in snippets:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times[code] = time.perf_counter() - start
    return times


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
