"""The training budget: batch size and number of epochs from the size of the data.

A fixed ``batch_size=256`` and ``max_epochs=20`` give a 200-row data set one optimizer
step per epoch, 20 steps in all, far too few for a network to learn; the same numbers
are fine for 100,000 rows. ``"auto"`` scales both with the number of rows ``n`` given
to ``fit``:

* ``batch_size = 2 ** round(log2(n) - 4)``, clipped to ``[32, 512]``: about 16 steps
  per epoch on small data (32 rows a batch below ~700 rows), 512 rows a batch from
  ~6,000 rows on, where larger batches train faster and still hold positives.
* ``max_epochs = ceil(TARGET_STEPS / steps_per_epoch)``, clipped to
  ``[MIN_EPOCHS, MAX_EPOCHS]``: 10,000 optimizer steps where 200 epochs allow it
  (best-epoch selection, not this bound, usually ends training), and ``MIN_EPOCHS``
  passes over data of a million rows and more, where an epoch alone takes
  thousands of steps.

The constants were chosen by ``benchmarks/bench_quality.py`` (see the README).
"""

import math

MIN_BATCH_SIZE = 32
MAX_BATCH_SIZE = 512
TARGET_STEPS = 10_000
MIN_EPOCHS = 20
MAX_EPOCHS = 200
#: Smallest batch for validation and prediction with ``batch_size="auto"``.
INFERENCE_BATCH_SIZE = 1024


def auto_batch_size(n_rows):
    """Batch size for ``n_rows`` training rows.

    Examples
    --------
    >>> auto_batch_size(200), auto_batch_size(1_000), auto_batch_size(100_000)
    (32, 64, 512)
    """
    n_rows = max(int(n_rows), 1)
    size = 2 ** round(math.log2(n_rows) - 4)
    return int(min(max(size, MIN_BATCH_SIZE), MAX_BATCH_SIZE))


def auto_max_epochs(n_rows, batch_size):
    """Upper bound on the epochs for ``n_rows`` rows at ``batch_size``.

    Examples
    --------
    >>> [auto_max_epochs(n, b) for n, b in [(200, 32), (10**5, 512), (10**6, 512)]]
    [200, 52, 20]
    """
    steps_per_epoch = max(math.ceil(max(int(n_rows), 1) / batch_size), 1)
    epochs = math.ceil(TARGET_STEPS / steps_per_epoch)
    return int(min(max(epochs, MIN_EPOCHS), MAX_EPOCHS))


def resolve_budget(batch_size, max_epochs, n_rows):
    """``(batch_size, max_epochs)`` with ``"auto"`` resolved for ``n_rows`` rows.

    Examples
    --------
    >>> resolve_budget("auto", "auto", 1_000)
    (64, 200)
    >>> resolve_budget(128, "auto", 1_000), resolve_budget("auto", 7, 1_000)
    ((128, 200), (64, 7))
    """
    if batch_size == "auto":
        batch_size = auto_batch_size(n_rows)
    elif batch_size == -1:
        batch_size = max(int(n_rows), 1)  # skorch's "the whole set in one batch"
    if max_epochs == "auto":
        max_epochs = auto_max_epochs(n_rows, batch_size)
    return batch_size, max_epochs


def batch_size_in_use(batch_size, fitted_batch_size, training):
    """Rows a batch: the ``batch_size`` parameter, or with ``"auto"`` the fitted
    ``batch_size_`` for training and at least ``INFERENCE_BATCH_SIZE`` for
    validation and prediction (no gradient: larger batches cost no quality).

    Examples
    --------
    >>> batch_size_in_use("auto", 64, True), batch_size_in_use("auto", 64, False)
    (64, 1024)
    >>> batch_size_in_use(128, 64, False), batch_size_in_use("auto", None, True)
    (128, 1024)
    """
    if batch_size != "auto":
        return batch_size
    fitted = fitted_batch_size or INFERENCE_BATCH_SIZE
    return fitted if training else max(fitted, INFERENCE_BATCH_SIZE)
