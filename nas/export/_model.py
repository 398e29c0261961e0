"""The exported model: the task's preprocessing in front of the network, one module.

``ExportedModel(transform, network)(*raw)`` = ``network(*transform(*raw))``:
what TorchScript and ONNX trace and what :func:`nas.load` returns, so every
format takes the raw data a user has (``Task.raw_inputs``). ``.network`` is
the bare network (it takes what the task feeds during training).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ExportedModel"]


class ExportedModel(nn.Module):
    """``network(*transform(*raw_inputs))``; only the network has weights."""

    def __init__(self, transform: nn.Module, network: nn.Module) -> None:
        super().__init__()
        self.transform = transform
        self.network = network

    def forward(self, *raw: torch.Tensor) -> Any:
        return self.network(*self.transform(*raw))
