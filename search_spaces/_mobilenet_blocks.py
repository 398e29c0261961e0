"""MobileNetV3 building blocks for the ``mobilenet`` space (Howard et al. 2019; OFA, Cai et al. 2020).

Built to be sliced: a block with a smaller kernel, expand ratio or width has
parameters that are slices of the largest block's (OFA's elastic kernel takes
the centre ``k x k`` of the 7x7 depthwise kernel, elastic width the first
channels). Every block's submodules and parameter shapes:

=====================  =================================================
``expand``             :class:`ConvBNAct` 1x1, ``in -> mid``
``depthwise``          :class:`ConvBNAct` ``k x k``, groups ``mid``, stride
``se``                 :class:`SqueezeExcite` (``mid -> se_dim -> mid``) or ``nn.Identity``
``project``            :class:`ConvBNAct` 1x1, ``mid -> out``, no activation
=====================  =================================================

with ``mid = make_divisible(in * expand_ratio)`` and ``se_dim =
make_divisible(mid // 4)``. A :class:`ConvBNAct` holds ``conv`` (no bias),
``bn`` and ``act`` (``nn.ReLU``, ``nn.Hardswish`` or ``nn.Identity``).
``forward`` branches only on constructor arguments (traceable).
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["make_divisible", "ConvBNAct", "SqueezeExcite", "InvertedResidual"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor`` without losing more than 10% (MobileNetV2)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "hswish": nn.Hardswish, "none": nn.Identity}[name]()


class ConvBNAct(nn.Module):
    """Conv (no bias, 'same' padding) + batch norm + activation."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, stride: int = 1,
                 groups: int = 1, act: str = "relu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = _activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Channel attention: ``x * hardsigmoid(expand(relu(reduce(mean(x)))))``; 1x1 convs with bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = make_divisible(channels // 4)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        scale = torch.relu(self.reduce(scale))
        return x * nn.functional.hardsigmoid(self.expand(scale))


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 block: 1x1 expand, k x k depthwise, optional SE, 1x1 project, skip."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int, expand_ratio: float,
                 stride: int, use_se: bool, act: str) -> None:
        super().__init__()
        mid = make_divisible(in_ch * expand_ratio)
        self.expand = ConvBNAct(in_ch, mid, 1, act=act)
        self.depthwise = ConvBNAct(mid, mid, kernel, stride=stride, groups=mid, act=act)
        self.se: nn.Module = SqueezeExcite(mid) if use_se else nn.Identity()
        self.project = ConvBNAct(mid, out_ch, 1, act="none")
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return x + out if self.residual else out
