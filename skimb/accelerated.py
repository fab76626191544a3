"""Multi-process / multi-GPU training through Hugging Face ``accelerate``, with
skorch's :class:`skorch.hf.AccelerateMixin`."""

from contextlib import contextmanager

import torch
from skorch.hf import AccelerateMixin
from torch.utils.data import BatchSampler

from .classifier import ImbalancedNetClassifier
from .seeds import torch_seed
from .training.signatures import accepts


class AcceleratedImbalancedNetClassifier(AccelerateMixin, ImbalancedNetClassifier):
    """:class:`ImbalancedNetClassifier` trained on several processes (GPUs, or CPU
    processes with the gloo backend) by ``accelerate``.

    Launch the same script once per process, e.g.
    ``accelerate launch --num_processes 2 train.py`` or
    ``torchrun --nproc_per_node 2 train.py``; each process calls ``fit`` on the same
    data. Accelerate wraps the module in ``DistributedDataParallel`` and deals the
    training batches out: process ``r`` of ``n`` trains on batches ``r, r + n, ...``
    of one shared plan, so the gradient of a step averages ``n`` distinct batches.

    What skimb adds to skorch's mixin:

    - skimb's samplers are built with ``num_replicas=1, rank=0``: accelerate shards
      the batches, so a sampler that sharded by ``torch.distributed`` too would cut
      the data twice. ``batch_balanced`` keeps its guarantee in every process
      (whole batches are dealt out).
    - Every process draws the same plan: with ``random_state=None`` a seed is drawn
      on the main process and broadcast before each fit.
    - Validation, the threshold pass and ``predict_proba`` are not sharded: every
      process scores all validation rows, so all select the same epoch, stop at
      the same time and tune the same threshold; the weights stay identical.
    - One model is trained across the processes: ``bagging="auto"`` trains no
      bag (:mod:`skimb.bagging`), and an int ``bagging`` is refused.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Its settings (mixed precision, gradient accumulation) apply to training.
    device : None, default=None
        Device placement is accelerate's (``Accelerator(cpu=True)`` for CPU
        processes).
    unwrap_after_train : bool, default=True
        Take the module out of ``DistributedDataParallel`` after ``fit`` (needed to
        pickle the net).
    **kwargs
        Every parameter of :class:`ImbalancedNetClassifier`.

    Examples
    --------
    >>> from accelerate import Accelerator
    >>> from skimb import AcceleratedImbalancedNetClassifier
    >>> clf = AcceleratedImbalancedNetClassifier(accelerator=Accelerator(cpu=True))
    >>> clf.device is None
    True
    """

    #: bagging="auto" resolves to one network (see the class docstring).
    _bags_by_default = False

    def _sampler_sharding(self, sampler_class, options):
        # accelerate deals the batches out: the sampler itself must not shard
        if accepts(sampler_class, "num_replicas"):
            return {**options, "num_replicas": 1, "rank": 0}
        return options

    def _initialize_accelerator(self):
        # A criterion without trainable parameters (BCE with its pos_weight buffer,
        # the focal loss) cannot be wrapped in DistributedDataParallel; skorch's
        # mixin would try. It only needs to sit on the accelerator's device.
        if self._wrapped_with_accelerator:
            return self
        for name in self._criteria:
            criterion = getattr(self, name + "_")
            if isinstance(criterion, torch.nn.Module) and not any(
                p.requires_grad for p in criterion.parameters()
            ):
                setattr(self, name + "_", criterion.to(self.accelerator.device))
        criteria, self._criteria = self._criteria, []
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def _training_batches(self, batches):
        return ListBatches(batches)

    def get_iterator(self, dataset, training=False):
        iterator = ImbalancedNetClassifier.get_iterator(self, dataset, training)
        # Only training batches are dealt out; see the class docstring.
        return self.accelerator.prepare(iterator) if training else iterator

    def infer(self, x, **fit_params):
        # Unprepared (validation, prediction) batches are still where the loader
        # left them; the module is on the accelerator's device.
        if isinstance(x, torch.Tensor):
            x = x.to(self.accelerator.device, non_blocking=True)
        return super().infer(x, **fit_params)

    def evaluation_step(self, batch, training=False):
        # Every process predicts all rows itself: nothing to gather.
        return ImbalancedNetClassifier.evaluation_step(self, batch, training)

    @contextmanager
    def _fit_context(self, epochs_done):
        with super()._fit_context(epochs_done):
            if self.random_state is None:
                self._share_a_seed()
            yield

    def _share_a_seed(self):
        from accelerate.utils import broadcast_object_list

        seed = [torch_seed()]
        if self.accelerator.num_processes > 1:
            broadcast_object_list(seed, from_process=0)
        torch.manual_seed(seed[0])


class ListBatches(BatchSampler):
    """A batch sampler's batches as lists of ints: accelerate's ``BatchSamplerShard``
    tests a batch's truth value, which an index array does not have."""

    def __init__(self, batches):  # noqa: D107 - no BatchSampler.__init__ on purpose
        self.batches = batches
        self.batch_size = getattr(batches, "batch_size", None)
        self.drop_last = getattr(batches, "drop_last", False)

    def __iter__(self):
        for batch in self.batches:
            yield batch.tolist() if hasattr(batch, "tolist") else list(batch)

    def __len__(self):
        return len(self.batches)
