"""Pre-norm transformer blocks shared by the ``vit`` and ``charlm`` spaces.

Built to be sliced (AutoFormer, Chen et al. 2021): every parameter of a
smaller block is a *prefix slice* of the same parameter in the largest block,
so a weight-sharing supernet can hand its weights to :meth:`SearchSpace.build`
models with ``load_state_dict(strict=True)``. The layout per block:

==============  ==========================  ==========================
module          parameter                   shape
==============  ==========================  ==========================
``norm1``       weight, bias                ``(dim,)``
``attn.qkv``    weight, bias                ``(3*dim, dim)``, ``(3*dim,)``
``attn.proj``   weight, bias                ``(dim, dim)``, ``(dim,)``
``norm2``       weight, bias                ``(dim,)``
``mlp.fc1``     weight, bias                ``(hidden, dim)``, ``(hidden,)``
``mlp.fc2``     weight, bias                ``(dim, hidden)``, ``(dim,)``
==============  ==========================  ==========================

The number of heads changes no shape: ``qkv``'s output is read as
``(3, heads, dim // heads)``, so a supernet slices ``qkv.weight[:3*dim, :dim]``
and reshapes exactly as :class:`SelfAttention` does. ``forward`` has no
data-dependent Python branches (TorchScript/ONNX traceable).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["SelfAttention", "FeedForward", "TransformerBlock"]


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` Linear and an output ``proj``."""

    def __init__(self, dim: int, heads: int, *, causal: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.dim = dim
        self.heads = heads
        self.causal = causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, self.dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, tokens, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, self.dim))


class FeedForward(nn.Module):
    """``fc2(gelu(fc1(x)))`` with a free hidden width (per-layer MLP ratio / FFN dim)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, hidden: int, *, causal: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, causal=causal)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
