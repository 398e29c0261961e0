"""Elastic linear layer: the largest ``nn.Linear``; a subnet uses its first rows and columns.

Input and output widths shrink by keeping the leading features, as in
Once-for-All's ``DynamicLinear`` (Cai et al. 2020) and AutoFormer's
``LinearSuper`` (Chen et al. 2021).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from supernets.elastic._base import Elastic, Shapes

__all__ = ["ElasticLinear", "slice_linear"]


def slice_linear(
    weight: torch.Tensor, bias: torch.Tensor | None, out_features: int, in_features: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight ``(out, in)`` and bias ``(out,)`` of a narrower linear layer (views)."""
    return weight[:out_features, :in_features], None if bias is None else bias[:out_features]


class ElasticLinear(Elastic, nn.Linear):
    """``nn.Linear(max_in, max_out)`` that serves every narrower linear layer."""

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticLinear:
        out_features, in_features = shapes["weight"]
        return cls(in_features, out_features, bias="bias" in shapes)

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if name == "weight":
            return slice_linear(full, None, shape[0], shape[1])[0]
        return full[: shape[0]]
