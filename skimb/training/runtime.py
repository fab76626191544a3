"""Device, threads and random state around a fit or a prediction."""

from contextlib import contextmanager

import torch

from ..devices import resolve_device
from ..seeds import derived_seed
from ..threads import cooperative_threads


@contextmanager
def concrete_device(net):
    """Within it, ``net.device`` is the device ``"auto"`` resolves to.

    skorch reads ``net.device`` wherever it moves a tensor; resolving it once here
    keeps ``"auto"`` as the parameter (``get_params``, ``clone``) and a concrete
    device in every skorch call inside.
    """
    requested = net.__dict__.get("device")
    if requested != "auto":
        yield
        return
    net.__dict__["device"] = resolve_device(requested)
    try:
        yield
    finally:
        net.__dict__["device"] = requested


def device_type(device):
    """``"cpu"`` or ``"cuda"``; for ``device=None`` (accelerate), where batches go."""
    return torch.device(resolve_device("auto" if device is None else device)).type


@contextmanager
def fit_runtime(net, epochs_done):
    """Threads, device and random state of a fit that starts after ``epochs_done``
    epochs (0 for a fresh fit).

    A fit in a Dask worker uses its task's share of the cores
    (:mod:`skimb.threads`). With ``random_state`` set, torch's RNG is seeded from
    it and ``epochs_done`` inside :func:`torch.random.fork_rng`, so the fit is
    reproducible, a ``partial_fit`` that continues a history draws fresh batches,
    and the caller's global RNG is left as it was.
    """
    with cooperative_threads(), concrete_device(net):
        if net.random_state is None:
            yield
            return
        device = torch.device(net.device or device_type(net.device))
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(derived_seed(net.random_state, epochs_done))
            yield


class AutoDevicePickling:
    """Mixin for a skorch ``NeuralNet`` with ``device="auto"``: a pickle records
    where the tensors live (``device_``), and unpickling maps them to the device
    ``"auto"`` resolves to on the loading machine (a net fitted on a GPU loads on
    a CPU-only one). A fit's plan, if a checkpoint is written during the fit, is
    left out."""

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fit_plan", None)
        if state.get("device") == "auto":
            state["device"] = getattr(self, "device_", "cpu")
            state["device_requested_auto_"] = True
        return state

    def __setstate__(self, state):
        auto = state.pop("device_requested_auto_", False)
        if auto:
            state["device"] = resolve_device("auto")
        super().__setstate__(state)
        if auto:
            self.__dict__["device"] = "auto"
            self.device_ = resolve_device("auto")
