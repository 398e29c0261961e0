"""Elastic layers: static layers at their largest size plus pure slicing functions.

One module per kind (linear, conv2d, batch norm, layer norm, attention,
graph conv). :func:`elastic_kind` picks the kind for a static layer, so a
supernet can mirror any model ``space.build`` makes, layer by layer.
"""

from __future__ import annotations

import torch.nn as nn

from supernets.elastic._base import Elastic, ElasticParameters, Shapes, own_state, slice_leading
from supernets.elastic.attention import ElasticMultiheadAttention, ElasticQKVLinear, slice_qkv
from supernets.elastic.batch_norm import ElasticBatchNorm, is_batch_norm, slice_batch_norm
from supernets.elastic.conv2d import ElasticConv2d, slice_conv2d_weight
from supernets.elastic.graph_conv import ElasticGraphConv, is_graph_conv, slice_graph_conv
from supernets.elastic.layer_norm import ElasticLayerNorm, slice_layer_norm
from supernets.elastic.linear import ElasticLinear, slice_linear

__all__ = [
    "Elastic",
    "ElasticBatchNorm",
    "ElasticConv2d",
    "ElasticGraphConv",
    "ElasticLayerNorm",
    "ElasticLinear",
    "ElasticMultiheadAttention",
    "ElasticParameters",
    "ElasticQKVLinear",
    "Shapes",
    "elastic_kind",
    "own_state",
    "slice_batch_norm",
    "slice_conv2d_weight",
    "slice_graph_conv",
    "slice_layer_norm",
    "slice_leading",
    "slice_linear",
    "slice_qkv",
]


def elastic_kind(module: nn.Module, name: str = "") -> type[Elastic]:
    """The elastic class standing for ``module`` (``name`` spots fused ``qkv`` projections)."""
    if isinstance(module, nn.MultiheadAttention):
        return ElasticMultiheadAttention
    if _is_linear(module):
        return ElasticQKVLinear if name.rsplit(".", 1)[-1] == "qkv" else ElasticLinear
    if isinstance(module, nn.Conv2d):
        return ElasticConv2d
    if is_batch_norm(module):
        return ElasticBatchNorm
    if isinstance(module, nn.LayerNorm):
        return ElasticLayerNorm
    if is_graph_conv(module):
        return ElasticGraphConv
    return ElasticParameters


def _is_linear(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    try:
        from torch_geometric.nn.dense.linear import Linear as GeometricLinear
    except ImportError:  # pragma: no cover
        return False
    return isinstance(module, GeometricLinear)
