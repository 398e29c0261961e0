"""Elastic multi-head attention: embedding dim and heads shrink, q, k and v sliced apart.

AutoFormer (Chen et al. 2021) shares one attention block among embedding
dims and head counts. The fused input projection stacks the query, key and
value rows, ``(3*D, D)``; a subnet of width ``d`` takes the first ``d`` rows
*of each* block (:func:`slice_qkv`), so its queries come from the supernet's
queries, not from a mix of queries and keys. Heads change no shape
(``head_dim = d / heads``), so every head count shares the same weights.

Two static layers are covered: a fused ``qkv`` ``nn.Linear`` (our
transformer spaces) and ``nn.MultiheadAttention`` (its ``in_proj_*``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from supernets.elastic._base import Elastic, Shapes
from supernets.elastic.linear import ElasticLinear

__all__ = ["ElasticQKVLinear", "ElasticMultiheadAttention", "slice_qkv"]


def slice_qkv(full: torch.Tensor, rows: int, columns: int | None = None) -> torch.Tensor:
    """The ``(3*d, in)`` (or ``(3*d,)``) projection of width ``d = rows // 3`` from a stacked one."""
    block = full.shape[0] // 3
    width = rows // 3
    parts = [full[i * block : i * block + width] for i in range(3)]
    if columns is not None:
        parts = [part[:, :columns] for part in parts]
    return torch.cat(parts)


class _StackedQKV(Elastic):
    stacked: tuple[str, ...] = ()

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if name in self.stacked:
            return slice_qkv(full, shape[0], shape[1] if len(shape) > 1 else None)
        return super().slice_tensor(name, full, shape)

    def write_slice(self, name: str, view: torch.Tensor, value: torch.Tensor) -> None:
        if name not in self.stacked:
            return super().write_slice(name, view, value)
        full = dict(self.named_parameters(recurse=False))[name]  # type: ignore[attr-defined]
        block, width = full.shape[0] // 3, value.shape[0] // 3
        for i in range(3):
            target = full[i * block : i * block + width]
            if value.dim() > 1:
                target = target[:, : value.shape[1]]
            target.copy_(value[i * width : (i + 1) * width])


class ElasticQKVLinear(_StackedQKV, ElasticLinear):
    """A fused ``qkv = nn.Linear(D, 3*D)`` of the largest width, sliced per q/k/v block."""

    stacked = ("weight", "bias")

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return _StackedQKV.slice_tensor(self, name, full, shape)


class ElasticMultiheadAttention(_StackedQKV, nn.MultiheadAttention):
    """``nn.MultiheadAttention`` at the largest embedding dim; ``out_proj`` is its own linear."""

    stacked = ("in_proj_weight", "in_proj_bias")

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticMultiheadAttention:
        if "in_proj_weight" not in shapes:
            raise ValueError("only attention with a fused in_proj (same q/k/v dims) is elastic")
        embed_dim = shapes["in_proj_weight"][1]
        layer = cls(embed_dim, 1, bias="in_proj_bias" in shapes,
                    batch_first=getattr(like, "batch_first", False))
        del layer.out_proj  # the output projection is a child layer with its own elastic slot
        return layer
