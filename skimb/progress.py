"""Progress bars (tqdm) for fits and for passes over data read from disk.

A bar appears only for work that lasts: with ``progress="auto"`` (the classifier's
default) a bar is drawn once an epoch, or a pass over a dataset, has run for
``DELAY_S`` seconds, so small fits print nothing new. Bars go to stderr, survive
pickling (the tqdm object lives only during the pass) and work in joblib workers.
"""

import math

from skorch.callbacks import ProgressBar
from tqdm.auto import tqdm

from .budget import batch_size_in_use

#: Seconds of work before an ``"auto"`` bar shows.
DELAY_S = 2.0


class EpochProgressBar(ProgressBar):
    """skorch's ``ProgressBar`` over the batches of an epoch, shown after ``delay``
    seconds, with the net's resolved batch size (``batch_size="auto"``)."""

    def __init__(self, delay=DELAY_S, postfix_keys=None):
        super().__init__(batches_per_epoch="auto", postfix_keys=postfix_keys)
        self.delay = delay

    def _get_batch_size(self, net, training):
        return _batch_size(net, training)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        total = self._get_batches_per_epoch(net, dataset_train, dataset_valid)
        epoch = len(net.history)
        self.pbar_ = tqdm(
            total=total, leave=False, delay=self.delay, desc=f"epoch {epoch}"
        )


def progress(iterable, net, total_rows, description):
    """``iterable`` (batches) with a bar when ``net.progress`` asks for one."""
    delay = _delay(net)
    if delay is None:
        return iterable
    total = math.ceil(total_rows / max(_batch_size(net, False), 1))
    return tqdm(iterable, total=total, leave=False, delay=delay, desc=description)


def epoch_bar(net):
    """The callback for the net's ``progress`` setting, or None."""
    delay = _delay(net)
    return None if delay is None else EpochProgressBar(delay=delay)


def _delay(net):
    if net.progress is False or (net.progress == "auto" and not net.verbose):
        return None
    return 0.0 if net.progress is True else DELAY_S


def _batch_size(net, training):
    return batch_size_in_use(
        net.batch_size, getattr(net, "batch_size_", None), training
    )
