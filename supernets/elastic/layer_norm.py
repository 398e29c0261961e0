"""Elastic layer norm: the first ``d`` features' scale and shift (AutoFormer's ``LayerNormSuper``).

The statistics are computed over the subnet's own ``d`` features, so a
narrower embedding normalises exactly as its standalone model does.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from supernets.elastic._base import Elastic, Shapes

__all__ = ["ElasticLayerNorm", "slice_layer_norm"]


def slice_layer_norm(tensor: torch.Tensor, features: int) -> torch.Tensor:
    return tensor[:features]


class ElasticLayerNorm(Elastic, nn.LayerNorm):
    """``nn.LayerNorm(max_dim)`` serving every narrower layer norm."""

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticLayerNorm:
        shape = shapes.get("weight") or shapes["bias"]
        return cls(shape, elementwise_affine="weight" in shapes, bias="bias" in shapes)

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return full[tuple(slice(0, s) for s in shape)]
