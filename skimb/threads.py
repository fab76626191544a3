"""How many threads torch uses during a fit: the share of the cores that the engine
running the fit gave it, so that parallel searches do not oversubscribe the CPU.

joblib's loky workers and Dask's worker processes already start with
``OMP_NUM_THREADS`` set to their share (joblib: cores // n_jobs; Dask: 1), and torch
reads it at import; ``threadpoolctl.threadpool_limits`` lowers torch's OpenMP pool
too. What neither covers is a Dask worker that runs several tasks at once in
threads (``threads_per_worker > 1``, or ``processes=False``): its tasks share one
torch thread pool. There, each fit gets one thread per task, Dask's convention for
compute-bound tasks. Whatever is set is restored when the fit ends.
"""

from contextlib import contextmanager

import torch


def task_threads():
    """Threads one fit should use, or None to leave torch's setting as it is.

    Examples
    --------
    >>> task_threads() is None  # not in a Dask worker
    True
    """
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        get_worker()
    except ValueError:  # not running in a Dask worker
        return None
    return 1


@contextmanager
def cooperative_threads():
    """Run the block with :func:`task_threads` torch threads; restore them after."""
    threads = task_threads()
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
