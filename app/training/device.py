"""Where a run trains: 'auto' takes CUDA, then Apple's MPS, then the CPU."""

import torch


def pick_device(requested: str = "auto") -> torch.device:
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is visible; use 'auto' or 'cpu'")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device 'mps' was asked for but this machine has no MPS; use 'auto' or 'cpu'")
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
