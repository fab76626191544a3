"""Resumable fits: everything a fit needs to go on, written after every epoch.

A fit with ``checkpoint="some/folder"`` writes one file, ``checkpoint.pt``, at the
end of every epoch: the module's, optimizer's and criterion's state, the history,
the callbacks' fitted state (the epoch selection's best score and best weights, the
weight schedule's state: every attribute ending in ``_``), torch's RNG state and the
sampler's epoch. The file is written beside its final name and renamed over it
(``os.replace``, after an ``fsync``), so a process killed at any moment leaves the
last complete checkpoint or the one before, never half of one.

A later ``fit`` with the same data and parameters reads it back at the start of
training and trains the remaining epochs only. Every random draw before the first
epoch (the module's initial weights, the sampler's seed, the scaling sample) is made
again as the first fit made it, and every draw after the last completed epoch comes
from the restored state, so with ``random_state`` set a resumed fit on the CPU ends
with the model an uninterrupted fit gives, bit for bit
(``tests/test_checkpoints.py`` kills real processes to show it).

The file carries a fingerprint of the data and of the parameters
(:func:`fit_fingerprint`); a checkpoint whose fingerprint differs is refused with an
error naming the folder, never reused.

skorch's own ``Checkpoint`` writes the module, optimizer, criterion and history as
separate files one after another, so a process killed between them leaves a set
from two different epochs, and it keeps no RNG, sampler or callback state; its
``LoadInitState`` reloads that set. Hence one file here.
"""

import hashlib
import os
import pickle
import types
from functools import partial
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

#: The checkpoint's file inside the folder.
CHECKPOINT_FILE = "checkpoint.pt"
#: Bumped when the file's layout changes: an older file is refused, not misread.
FORMAT = 1
#: Parameters that change what a fit prints, not what it computes.
COSMETIC_PARAMS = ("checkpoint", "verbose", "progress")
#: Callbacks whose state is not the fit's (a progress bar, the printed table).
STATELESS_CALLBACKS = ("progress_bar", "print_log", "checkpoint")


class CheckpointMismatch(ValueError):
    """A checkpoint written by a fit of other data or other parameters."""


def check_checkpoint(path):
    """Raise unless ``path`` can be a checkpoint folder: a folder, or a name whose
    parent folder exists (a mistyped path never creates a tree of folders)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"checkpoint must be None or a folder path (str or Path), got {path!r}"
        )
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"checkpoint={str(path)!r} is a file; give a folder (it holds "
            f"{CHECKPOINT_FILE})"
        )
    parent = folder.resolve().parent
    if not folder.exists() and not parent.is_dir():
        raise FileNotFoundError(
            f"folder {str(parent)!r} of checkpoint={str(path)!r} does not exist"
        )


def checkpoint_folder(path):
    """The checkpoint folder ``path`` as a ``Path``, made if it does not exist
    (:func:`check_checkpoint` holds)."""
    check_checkpoint(path)
    folder = Path(path)
    folder.mkdir(exist_ok=True)
    return folder


def member_folder(folder, member):
    """The checkpoint folder of network ``member`` of a bag (inside the bag's)."""
    return os.path.join(checkpoint_folder(folder), f"member-{member}")


class FitCheckpoint(Callback):
    """Write the fit's state after every epoch into ``folder``; resume from it.

    Runs after every other callback at the end of an epoch (their state is then
    that of the finished epoch). At the start of training it reads the folder's
    checkpoint, if any, and checks its fingerprint; the module, optimizer,
    criterion, history and callbacks' state are restored at once, torch's RNG and
    the sampler's epoch at the start of the first epoch left to train (after the
    fit has drawn its sampler's seed and scaling sample, as the first fit did).

    Parameters
    ----------
    folder : str or Path
        The checkpoint folder (:func:`checkpoint_folder`).

    Attributes
    ----------
    fingerprint_ : str
        The fingerprint of this fit's data and parameters.
    resumed_epochs_ : int
        Epochs read back from the checkpoint (0: a fresh start).
    stopped_ : bool
        Whether the checkpoint recorded the end of training (the selection's
        patience ran out): nothing is left to train.
    """

    def __init__(self, folder):
        self.folder = folder

    @property
    def path(self):
        return Path(self.folder) / CHECKPOINT_FILE

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.resumed_epochs_, self.stopped_, self._pending = 0, False, None
        plan = net.__dict__.get("_fit_plan")
        # A fit from a fresh module only: partial_fit goes on from the model as it
        # is, which no checkpoint describes.
        self.active_ = plan is not None and plan.resumable
        if not self.active_:
            return
        folder = checkpoint_folder(self.folder)
        self.fingerprint_ = fit_fingerprint(net, X, y, plan.sample_weight)
        state = read_checkpoint(self.path)
        if state is None:
            return
        if state["fingerprint"] != self.fingerprint_:
            raise CheckpointMismatch(
                f"the checkpoint in {str(folder)!r} was written by a fit of other "
                "data or other parameters; resume with the data and parameters "
                "that wrote it, or give another (or an empty) checkpoint folder"
            )
        _restore(net, state)
        self.resumed_epochs_, self.stopped_ = len(net.history), state["stopped"]
        self._pending = state

    def on_epoch_begin(self, net, **kwargs):
        state, self._pending = self._pending, None
        if state is not None:
            _restore_streams(net, state)

    def on_epoch_end(self, net, **kwargs):
        if self.active_:
            self.write(net)

    def write(self, net, stopped=False):
        """Write the state at the end of the current epoch; ``stopped``: training
        ends here (the selection's patience ran out)."""
        write_atomically(self.path, _state(net, self.fingerprint_, stopped))


def epochs_left(net, epochs):
    """How many of ``epochs`` a fit still trains after what its checkpoint
    restored."""
    for _, callback in getattr(net, "callbacks_", ()):
        if isinstance(callback, FitCheckpoint) and callback.active_:
            if callback.stopped_:
                return 0
            return max(epochs - callback.resumed_epochs_, 0)
    return epochs


def write_stopped(net):
    """Record that training stopped at this epoch, when the fit checkpoints."""
    for _, callback in getattr(net, "callbacks_", ()):
        if isinstance(callback, FitCheckpoint) and callback.active_:
            callback.write(net, stopped=True)


# -- the file -------------------------------------------------------------------
def write_atomically(path, state):
    """``torch.save(state)`` into ``path`` through a temporary file in the same
    folder, flushed to disk and renamed over ``path``: a reader finds the old file
    or the new one, whole. Temporary files of killed writers are removed."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder):
    # The rename itself reaches the disk (POSIX; Windows has no folder handles).
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def read_checkpoint(path):
    """The state in ``path``, or None where there is no checkpoint yet."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ValueError(
            f"the checkpoint {str(path)!r} cannot be read ({error}); delete it to "
            "start the fit afresh"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a skimb checkpoint of format {FORMAT}; delete "
            "it to start the fit afresh"
        )
    return state


# -- what is saved ---------------------------------------------------------------
def _state(net, fingerprint, stopped):
    sampler = getattr(net, "sampler_", None)
    return {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "stopped": stopped,
        "module": net.module_.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "criterion": net.criterion_.state_dict(),
        "history": net.history,
        "callbacks": {
            name: _callback_state(callback)
            for name, callback in net.callbacks_
            if name not in STATELESS_CALLBACKS
        },
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if _on_cuda(net) else None,
        "sampler_epoch": getattr(sampler, "epoch", None),
        "grad_scaler": _state_dict_of(getattr(net, "grad_scaler_", None)),
    }


def _callback_state(callback):
    """A callback's fitted attributes (scikit-learn's trailing ``_``): objects with
    a ``state_dict`` by it, the others as they are."""
    state = {}
    for name, value in vars(callback).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
            state[name] = ("state_dict", value.state_dict())
        else:
            state[name] = ("value", value)
    return state


def _state_dict_of(value):
    return None if value is None else value.state_dict()


def _on_cuda(net):
    parameter = next(net.module_.parameters(), None)
    return parameter is not None and parameter.device.type == "cuda"


def _restore(net, state):
    net.module_.load_state_dict(state["module"])
    net.optimizer_.load_state_dict(state["optimizer"])
    net.criterion_.load_state_dict(state["criterion"])
    net.history_ = state["history"]
    saved = state["callbacks"]
    for name, callback in net.callbacks_:
        for attribute, (kind, value) in saved.get(name, {}).items():
            if kind == "state_dict":
                getattr(callback, attribute).load_state_dict(value)
            else:
                setattr(callback, attribute, value)
    if state["grad_scaler"] is not None and getattr(net, "grad_scaler_", None):
        net.grad_scaler_.load_state_dict(state["grad_scaler"])


def _restore_streams(net, state):
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    sampler = getattr(net, "sampler_", None)
    if state["sampler_epoch"] is not None and hasattr(sampler, "set_epoch"):
        sampler.set_epoch(state["sampler_epoch"])


# -- fingerprints -----------------------------------------------------------------
def fit_fingerprint(net, X, y, sample_weight=None):
    """A digest of what a fit computes from: the estimator's class and parameters
    (but ``checkpoint``, ``verbose`` and ``progress``), and the data.

    Arrays (and tensors) count by their bytes; a Dataset by its
    ``fingerprint()`` when it has one (:class:`~skimb.data.SQLiteDataset`: its
    file, table, columns, rows and a sample of them), else by its class, length
    and the labels.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_qualified(type(net)).encode())
    params = net.get_params(deep=False)
    for name in sorted(params):
        if name not in COSMETIC_PARAMS:
            digest.update(f"{name}={_stable(params[name])};".encode())
    for part in (X, y, sample_weight):
        _feed_data(digest, part)
    return digest.hexdigest()


def _feed_data(digest, value):
    while hasattr(value, "dataset") and not hasattr(value, "fingerprint"):
        _feed_data(digest, getattr(value, "sample_weight", None))
        _feed_data(digest, getattr(value, "indices", None))
        value = value.dataset  # a wrapper (EncodedTargets, a subset): the data inside
    if value is None:
        digest.update(b"none;")
    elif isinstance(value, torch.Tensor):
        _feed_array(digest, value.detach().cpu().numpy())
    elif isinstance(value, np.ndarray):
        _feed_array(digest, value)
    elif hasattr(value, "fingerprint"):
        digest.update(f"{_qualified(type(value))}:{value.fingerprint()};".encode())
    elif hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        labels = getattr(value, "labels", None)
        digest.update(f"{_qualified(type(value))}:{len(value)};".encode())
        if labels is not None:
            _feed_array(digest, np.asarray(labels))
    else:
        _feed_array(digest, np.asarray(value))


def _feed_array(digest, array):
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape};".encode())
    if array.dtype.kind == "O":
        digest.update(pickle.dumps(array.tolist()))
    else:
        digest.update(memoryview(array.reshape(-1)).cast("B"))


def _qualified(value):
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"


def _stable(value, depth=0):
    """A text of ``value`` that is the same in every process for equal values (no
    memory addresses): classes and functions by name, modules by their weights,
    estimators by their parameters, other objects by their attributes."""
    if depth > 6:
        return "..."
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if isinstance(value, (np.generic,)):
        return repr(value.item())
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_stable(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]))
        return "{" + ",".join(f"{k}:{_stable(v, depth + 1)}" for k, v in items) + "}"
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return _qualified(value)
    if isinstance(value, partial):
        return f"partial({_stable((value.func, value.args, value.keywords), depth)})"
    if isinstance(value, (np.ndarray, torch.Tensor)):
        digest = hashlib.blake2b(digest_size=16)
        _feed_data(digest, value)
        return f"array:{digest.hexdigest()}"
    if isinstance(value, torch.nn.Module):
        weights = {k: _stable(v, depth + 1) for k, v in value.state_dict().items()}
        return f"{_qualified(type(value))}({_stable(weights, depth + 1)})"
    if hasattr(value, "get_params"):
        params = value.get_params(deep=False)
        return f"{_qualified(type(value))}({_stable(params, depth + 1)})"
    attributes = getattr(value, "__dict__", None)
    if attributes is not None:
        public = {k: v for k, v in attributes.items() if not k.startswith("_")}
        return f"{_qualified(type(value))}({_stable(public, depth + 1)})"
    return f"{_qualified(type(value))}:{value!r}"
