"""Where the model and the data live: `device="auto"`, `dataset__device="auto"`."""

import torch

from .data.rows import root_dataset

#: Share of free GPU memory that in-memory data may take to be kept on the GPU.
GPU_DATA_SHARE = 0.25


def resolve_device(device):
    """``"auto"`` → ``"cuda"`` when a GPU is available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def data_device(device, nbytes):
    """Where ``dataset__device="auto"`` keeps an array of ``nbytes``: on the training
    device when it is a GPU with room to spare (the array takes at most
    ``GPU_DATA_SHARE`` of its free memory), else in CPU memory (None)."""
    device = resolve_device(device)
    if device is None or torch.device(device).type != "cuda":
        # device=None (accelerate): batches are moved by whoever places them
        return None
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return device if nbytes <= GPU_DATA_SHARE * free else None


def on_cuda(dataset):
    """Whether ``dataset`` (under skimb's and torch's wrappers) holds GPU tensors."""
    X = getattr(root_dataset(dataset), "X", None)
    return isinstance(X, torch.Tensor) and X.is_cuda
