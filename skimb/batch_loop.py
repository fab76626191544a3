"""skorch's per-batch path without its no-op calls.

skorch's loop calls, for every batch, every callback's ``on_batch_begin``,
``on_grad_computed`` and ``on_batch_end`` (most are the base class's empty methods)
and sets training or evaluation mode on every module and criterion, recursively,
even when nothing changed. With the default callbacks that is tens of microseconds a
batch: on a GPU, or with a small network, as much as the step itself. The mixin
below keeps skorch's behaviour (same hooks called, same modes) and skips only the
calls that cannot do anything.
"""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_device

# Hooks called once or more per batch; the others (per epoch, per fit) go to
# skorch's notify unchanged.
_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


class LeanBatchLoop:
    """Mixin for a skorch ``NeuralNet``: batch hooks only for the callbacks that
    define them, train/eval mode set only when it changes, and prediction that
    checks the net is fitted once per call, not once per batch."""

    def forward_iter(self, X, training=False, device="cpu"):
        self.check_is_fitted()
        iterator = self.get_iterator(self.get_dataset(X), training=training)
        for batch in iterator:
            yield to_device(self.evaluate_batch(batch, training), device=device)

    def evaluate_batch(self, batch, training=False):
        """skorch's ``evaluation_step`` without its per-batch ``check_is_fitted``
        (the caller checks once); a subclass's own ``evaluation_step`` is used as
        it is."""
        if type(self).evaluation_step is not NeuralNet.evaluation_step:
            return self.evaluation_step(batch, training=training)
        self._set_training(training)
        with torch.set_grad_enabled(training):
            return self.infer(unpack_data(batch)[0])

    def notify(self, method_name, **cb_kwargs):
        if method_name not in _BATCH_HOOKS:
            return super().notify(method_name, **cb_kwargs)
        getattr(self, method_name)(self, **cb_kwargs)
        for callback in self._batch_listeners(method_name):
            getattr(callback, method_name)(self, **cb_kwargs)

    def _batch_listeners(self, method_name):
        """The callbacks whose ``method_name`` is their own, not Callback's no-op.

        Cached for the current ``callbacks_`` list, which skorch replaces on every
        ``initialize_callbacks`` (each ``fit``): the cache holds that list itself,
        so a new list is always seen as new (an ``id`` could be reused once the old
        list is freed)."""
        callbacks = self.callbacks_
        cached = self.__dict__.get("_listeners")
        if cached is None or cached[0] is not callbacks or cached[1] != len(callbacks):
            cached = self.__dict__["_listeners"] = (callbacks, len(callbacks), {})
        by_hook = cached[2]
        if method_name not in by_hook:
            base = getattr(Callback, method_name)
            by_hook[method_name] = [
                cb
                for _, cb in callbacks
                if getattr(type(cb), method_name, None) is not base
            ]
        return by_hook[method_name]

    def _set_training(self, training=True):
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            # module.train() walks every submodule: only when the mode changes. A
            # submodule put in another mode on purpose (a frozen BatchNorm) then
            # stays so until the mode changes, where skorch would undo it at once.
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)
