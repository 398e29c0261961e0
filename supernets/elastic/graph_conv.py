"""Elastic graph convolutions: one weight set per conv type, shrinking in hidden dims and heads.

PyTorch Geometric convolutions keep their projections in child ``Linear``
layers (elastic through :class:`~supernets.elastic.linear.ElasticLinear`) and
a few tensors of their own: GAT's attention vectors ``(1, heads, channels)``,
biases, GIN's ``eps``. Those are held here at their largest shape and sliced
leading (:func:`slice_graph_conv`): fewer heads take the first heads, fewer
channels per head the first channels, as a GAT with a narrower hidden dim
would in a standalone model. Different conv types never share a slot (the
GNN supernet names slots by conv type), so a GCN's bias is never a GAT's.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from supernets.elastic._base import ElasticParameters, Shapes, slice_leading

__all__ = ["ElasticGraphConv", "slice_graph_conv", "is_graph_conv"]


def slice_graph_conv(full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A conv's own tensor (attention ``(1, heads, C)``, bias ``(H*C,)``) for fewer heads/dims."""
    return slice_leading(full, shape)


def is_graph_conv(module: nn.Module) -> bool:
    try:
        from torch_geometric.nn.conv import MessagePassing
    except ImportError:  # pragma: no cover - PyG is a dependency
        return False
    return isinstance(module, MessagePassing)


class ElasticGraphConv(ElasticParameters):
    """The tensors a message-passing layer owns directly, at their largest."""

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticGraphConv:
        return cls(shapes, buffers=tuple(n for n in shapes if n in like._buffers))

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return slice_graph_conv(full, shape)
