"""Which torch device a study, a worker or a benchmark runs on.

A leaf module (torch imported only to resolve ``"auto"``), so the search loop, the
supernet flow and the CLI resolve devices the same way without importing each other.
"""

from __future__ import annotations

__all__ = ["resolve_device"]


def resolve_device(device: str) -> str:
    """``device`` as given, except ``"auto"``: CUDA when torch sees a GPU, else CPU.

    >>> resolve_device("cpu")
    'cpu'
    """
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
