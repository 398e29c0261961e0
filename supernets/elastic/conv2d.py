"""Elastic 2-D convolution: channels shrink to the leading ones, kernels to the centre.

Once-for-All (Cai et al. 2020) shares one large kernel among kernel sizes by
taking its centre (``sub_filter_start``); OFA additionally learns a small
kernel-transformation matrix, which we leave out: the centre crop alone keeps
extraction exact and the weights shared. Depthwise convolutions (one input
channel per group) shrink their output channels only.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from supernets.elastic._base import Elastic, Shapes

__all__ = ["ElasticConv2d", "slice_conv2d_weight"]


def slice_conv2d_weight(weight: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A ``(out, in, k_h, k_w)`` kernel from a larger one: leading channels, centred kernel (view)."""
    out_channels, in_channels, k_h, k_w = shape
    top = (weight.shape[2] - k_h) // 2
    left = (weight.shape[3] - k_w) // 2
    return weight[:out_channels, :in_channels, top : top + k_h, left : left + k_w]


class ElasticConv2d(Elastic, nn.Conv2d):
    """``nn.Conv2d`` at the largest channels and kernel; serves every smaller convolution."""

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticConv2d:
        out_channels, in_channels, k_h, k_w = shapes["weight"]
        return cls(in_channels, out_channels, (k_h, k_w), bias="bias" in shapes)

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if name == "weight":
            return slice_conv2d_weight(full, shape)
        return full[: shape[0]]
