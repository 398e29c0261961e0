"""Elastic batch norm: the first ``C`` channels' affine parameters and running statistics.

Running statistics of a weight-sharing network do not fit any one subnet,
so they are re-estimated per subnet before evaluation
(:meth:`supernets.Supernet.recalibrate_bn`; "BN calibration" in SPOS, Guo et
al. 2020, and Once-for-All, Cai et al. 2020).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from supernets.elastic._base import Elastic, Shapes

__all__ = ["ElasticBatchNorm", "slice_batch_norm", "is_batch_norm"]


def slice_batch_norm(tensor: torch.Tensor, channels: int) -> torch.Tensor:
    """Per-channel tensor of a narrower BN (``num_batches_tracked`` is a scalar, kept whole)."""
    return tensor if tensor.dim() == 0 else tensor[:channels]


def is_batch_norm(module: nn.Module) -> bool:
    return isinstance(module, _BatchNorm)


class ElasticBatchNorm(Elastic, _BatchNorm):
    """Batch norm over the largest channel count; 1-D and 2-D BN share the same tensors."""

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticBatchNorm:
        channels = (shapes.get("weight") or shapes["running_mean"])[0]
        return cls(channels, affine="weight" in shapes,
                   track_running_stats="running_mean" in shapes)

    def _check_input_dim(self, input: Any) -> None:  # any rank: it stands for BN1d and BN2d
        pass

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return slice_batch_norm(full, shape[0] if shape else 0)
