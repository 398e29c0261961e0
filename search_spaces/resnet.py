"""A CIFAR ResNet space (He et al. 2016, section 4.2) whose grid holds ResNet-20 exactly.

A 3x3 stem, three stages of basic residual blocks (two ``k x k`` convs with batch
norm) at strides 1, 2, 2 on 32x32 images, global average pooling and a linear
classifier. Choices:

* ``s{i}_depth`` in {3, 1, 2, 4} blocks for stage ``i = 1 .. 3``;
* ``s{i}_width`` channels per stage: {16, 8, 12, 20, 24}, {32, 16, 24, 40, 48},
  {64, 32, 48, 80, 96}; the stem has stage 1's width;
* ``s{i}_kernel`` in {3, 5}, the kernel of both convs of every block of stage ``i``;
* ``se`` (squeeze-and-excite after each block's second batch norm, Hu et al. 2018,
  hidden width ``max(4, channels // 4)``) and ``activation`` (``relu``, ``hswish``).

The first value of each choice is ResNet-20's: 3 blocks per stage, 16/32/64
channels, 3x3, no SE, ReLU; 269,722 parameters (the 0.27M of He et al.).
A study file's ``[space.choices]`` may widen depths and widths to any positive
integer and kernels to any odd one.

Shortcuts follow the paper's option A where a block changes shape: the input
is subsampled by the stride and zero-padded to the new width, which adds no
parameters; only where a stage is *narrower* than the one before (possible with
widened choices) a 1x1 convolution + batch norm projects instead.

``max_params`` (``[space] max_params = 270000``) caps the parameter count and
``max_flops`` the FLOPs of one 32x32 image (``[space] max_flops = 48000000``;
ResNet-20 has 81.1M): an architecture above either is invalid, so the search
never trains it (a trial records why and is pruned). Both are computed from the
architecture (:func:`parameter_count`, :func:`flops_count`), without building
the model. FLOPs do not depend on the machine, latency does; on one CPU thread
(batch 64, no page faults: :mod:`nas.latency.allocator`) 3x3 ReLU nets of this
space measured at 0.9-1.1x their FLOPs ratio to ResNet-20, narrow many-block ones
and hardswish above it (benchmarks/README.md, resnet on cifar10-subset).

>>> space = ResNetSpace({"baseline": "resnet20"})
>>> parameter_count(space.default(), num_classes=10)
269722
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitecture
from search_spaces._base import Categorical, Choice, SearchSpace, TaskSpec
from search_spaces._registry import register_space

__all__ = ["ResNetSpace", "CifarResNet", "BasicBlock", "parameter_count", "flops_count", "STAGES"]

#: number of stages and the stride of each stage's first block
STAGES = (1, 2, 2)
_ACTIVATIONS = ("relu", "hswish")


@register_space("resnet")
class ResNetSpace(SearchSpace):
    """Per-stage depth, width and kernel of a CIFAR ResNet, SE and activation."""

    families = ("image",)

    #: Hand-designed CIFAR ResNets (He et al. 2016): ResNet-20, 3 blocks per stage.
    baselines = {
        "resnet20": {"s1_depth": 3, "s2_depth": 3, "s3_depth": 3,
                     "s1_width": 16, "s2_width": 32, "s3_width": 64,
                     "s1_kernel": 3, "s2_kernel": 3, "s3_kernel": 3,
                     "se": False, "activation": "relu"},
    }

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        overrides = dict(overrides or {})
        self.max_params: int | None = _positive_int(overrides.pop("max_params", None), "max_params")
        self.max_flops: int | None = _positive_int(overrides.pop("max_flops", None), "max_flops")
        super().__init__(overrides)

    def base_choices(self) -> dict[str, Choice]:
        widths = ((16, 8, 12, 20, 24), (32, 16, 24, 40, 48), (64, 32, 48, 80, 96))
        choices: dict[str, Choice] = {}
        for i in range(1, len(STAGES) + 1):
            choices[f"s{i}_depth"] = Categorical((3, 1, 2, 4))
            choices[f"s{i}_width"] = Categorical(widths[i - 1])
            choices[f"s{i}_kernel"] = Categorical((3, 5))
        choices["se"] = Categorical((False, True))
        choices["activation"] = Categorical(_ACTIVATIONS)
        return choices

    def check(self, arch: Architecture) -> None:
        for i in range(1, len(STAGES) + 1):
            if int(arch[f"s{i}_kernel"]) % 2 == 0:
                raise InvalidArchitecture(f"{self.name}: s{i}_kernel = {arch[f's{i}_kernel']} "
                                          "must be odd (the convs keep the image side)")

    def check_caps(self, arch: Architecture) -> None:
        if self.max_params is not None:
            count = parameter_count(arch, num_classes=10)
            if count > self.max_params:
                raise InvalidArchitecture(f"{self.name}: {count:,} parameters (10 classes) is "
                                          f"above space.max_params = {self.max_params:,}")
        if self.max_flops is not None:
            flops = flops_count(arch, num_classes=10)
            if flops > self.max_flops:
                raise InvalidArchitecture(f"{self.name}: {flops:,} FLOPs per 32x32 image is "
                                          f"above space.max_flops = {self.max_flops:,}")

    def largest(self) -> Architecture:
        return Architecture({n: max(c.grid()) for n, c in self.choices().items()
                             if n != "activation"} | {"activation": self.default()["activation"]})

    def smallest(self) -> Architecture:
        return Architecture({n: min(c.grid()) for n, c in self.choices().items()
                             if n != "activation"} | {"activation": self.default()["activation"]})

    def build(self, arch: Architecture, spec: TaskSpec) -> CifarResNet:
        arch = self.validate(arch)
        return CifarResNet(_stages(arch), se=bool(arch["se"]), activation=str(arch["activation"]),
                           in_channels=spec.input_dim, num_classes=spec.num_classes)


def parameter_count(arch: Mapping[str, Any], num_classes: int, in_channels: int = 3) -> int:
    """The parameters of the model built for ``arch``, counted from the architecture alone.

    Equal to ``sum(p.numel() for p in space.build(arch, spec).parameters())``.
    """
    stages = _stages(arch)
    width = stages[0][0]
    total = in_channels * width * 9 + 2 * width  # stem conv + batch norm
    for out, depth, kernel, _stride in stages:
        for block in range(depth):
            total += width * out * kernel**2 + out * out * kernel**2 + 4 * out
            if block == 0 and out < width:
                total += width * out + 2 * out  # 1x1 projection + batch norm
            if arch["se"]:
                hidden = _se_hidden(out)
                total += 2 * out * hidden + out + hidden
            width = out
    return total + width * num_classes + num_classes


def flops_count(arch: Mapping[str, Any], num_classes: int, in_channels: int = 3,
                side: int = 32) -> int:
    """FLOPs of one forward pass on one ``side x side`` image, counted from the architecture
    as :func:`nas.metrics.count_flops` (torch's ``FlopCounterMode``) counts the model: two
    per multiply-accumulate of every conv and linear layer; batch norm, activations,
    pooling and the shortcuts' padding are free."""
    stages = _stages(arch)
    width = stages[0][0]
    total = 2 * side * side * in_channels * width * 9  # stem
    for out, depth, kernel, stride in stages:
        for block in range(depth):
            if block == 0:
                side = (side - 1) // stride + 1
                if out < width:
                    total += 2 * side * side * width * out  # 1x1 projection
            total += 2 * side * side * kernel**2 * (width * out + out * out)
            if arch["se"]:
                total += 2 * 2 * out * _se_hidden(out)
            width = out
    return total + 2 * width * num_classes


def _positive_int(value: Any, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"space.{name}: must be a positive integer, got {value!r}")
    return value


def _stages(arch: Mapping[str, Any]) -> list[tuple[int, int, int, int]]:
    """``(width, depth, kernel, stride)`` per stage."""
    return [(int(arch[f"s{i}_width"]), int(arch[f"s{i}_depth"]), int(arch[f"s{i}_kernel"]), stride)
            for i, stride in enumerate(STAGES, start=1)]


def _se_hidden(channels: int) -> int:
    return max(4, channels // 4)


def _activation(name: str) -> nn.Module:
    return nn.Hardswish() if name == "hswish" else nn.ReLU()


class SqueezeExcite(nn.Module):
    """``x * sigmoid(expand(relu(reduce(mean(x)))))`` with 1x1 convs (Hu et al. 2018)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = _se_hidden(channels)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.relu(self.reduce(x.mean(dim=(2, 3), keepdim=True)))
        return x * torch.sigmoid(self.expand(scale))


class BasicBlock(nn.Module):
    """Two ``k x k`` conv + batch norm layers and a shortcut (option A, or a projection)."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int, stride: int, se: bool,
                 activation: str) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(in_ch, out_ch, kernel, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, kernel, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.se: nn.Module = SqueezeExcite(out_ch) if se else nn.Identity()
        self.act = _activation(activation)
        self.stride = stride
        self.pad_channels = max(0, out_ch - in_ch)
        self.project: nn.Module | None = None
        if out_ch < in_ch:
            self.project = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                         nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.act(out + self._shortcut(x))

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is not None:
            return self.project(x)
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad_channels:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.pad_channels))
        return x


class CifarResNet(nn.Module):
    """Stem, three stages of :class:`BasicBlock`, global pooling, linear classifier.

    ``stages`` is ``[(width, depth, kernel, stride), ...]``;
    ``forward(images (B, C, H, W)) -> logits (B, classes)``.
    """

    def __init__(self, stages: list[tuple[int, int, int, int]], *, se: bool, activation: str,
                 in_channels: int, num_classes: int) -> None:
        super().__init__()
        width = stages[0][0]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), _activation(activation))
        blocks: list[nn.Module] = []
        for out, depth, kernel, stride in stages:
            for block in range(depth):
                blocks.append(BasicBlock(width, out, kernel=kernel,
                                         stride=stride if block == 0 else 1, se=se,
                                         activation=activation))
                width = out
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(width, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(images))
        return self.classifier(features.mean(dim=(2, 3)))
