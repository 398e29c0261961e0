"""An Once-for-All-style MobileNetV3 space (Cai et al. 2020), sized for 32x32 CIFAR images.

Five stages of inverted-residual blocks (:mod:`search_spaces._mobilenet_blocks`)
with OFA's elastic dimensions:

* ``s{i}_depth`` in {2, 3, 4} blocks for stage ``i = 1 .. 5``;
* ``s{i}_b{j}_kernel`` in {3, 5, 7} and ``s{i}_b{j}_expand`` in {3, 4, 6} for
  block ``j = 1 .. 4`` of stage ``i``. Blocks ``j > s{i}_depth`` are sampled but
  ignored (and zeroed by :meth:`encode`), as in OFA's elastic depth, which
  keeps the first blocks of a stage;
* ``width_mult`` in {1.0, 0.75, 0.5}, scaling every channel count (OFA trains
  one supernet per width; here it is one more choice).

A study file's ``[space.choices]`` may narrow these or pick other values from
wider sets (width 0.25-1.25, depth 1-4, kernel 1-7, expand 1-6).

Stage widths, strides, SE and activations follow OFA's MobileNetV3
(24, 40, 80, 112, 160 channels; SE in stages 2, 4, 5; h-swish from stage 3).
For 32x32 inputs the stem has stride 1 and the stages strides 2, 2, 2, 1, 1,
so feature maps are 16, 8, 4, 4, 4 pixels wide (ImageNet's 224 pixels would
start with a stride-2 stem and end at 7x7).

Module layout (a supernet slices these): ``stem`` (:class:`ConvBNAct` 3x3,
``channels -> c(16)``), ``stages`` (``ModuleList`` of ``ModuleList`` of
:class:`InvertedResidual`, only the active blocks), ``final_expand``
(:class:`ConvBNAct` 1x1, ``c(160) -> c(960)``), ``classifier``
(``Linear(c(960), classes)``) with ``c(n) = make_divisible(n * width_mult)``.
``forward(images (B, C, H, W)) -> logits (B, classes)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from nas.architecture import Architecture
from search_spaces._base import Categorical, Choice, LatencyUnit, TaskSpec
from search_spaces._latency import random_images
from search_spaces._layered import LayeredSpace
from search_spaces._mobilenet_blocks import ConvBNAct, InvertedResidual, make_divisible
from search_spaces._registry import register_space

__all__ = ["MobileNetSpace", "MobileNetV3", "STAGES", "block_settings"]

#: (out channels, stride of the first block, squeeze-excite, activation) per stage
STAGES = ((24, 2, False, "relu"), (40, 2, True, "relu"), (80, 2, False, "hswish"),
          (112, 1, True, "hswish"), (160, 1, True, "hswish"))
MAX_DEPTH = 4
STEM_CHANNELS = 16
FINAL_EXPAND = 6


@register_space("mobilenet")
class MobileNetSpace(LayeredSpace):
    """Per-stage depth, per-block kernel size and expand ratio, and a width multiplier."""

    families = ("image",)

    def base_choices(self) -> dict[str, Choice]:
        choices: dict[str, Choice] = {
            "width_mult": Categorical((1.0, 0.75, 0.5), allowed=(0.25, 0.35, 0.5, 0.75, 1.0, 1.25)),
        }
        for i in range(1, len(STAGES) + 1):
            choices[f"s{i}_depth"] = Categorical((3, 2, 4), allowed=tuple(range(1, MAX_DEPTH + 1)))
            for j in range(1, MAX_DEPTH + 1):
                choices[f"s{i}_b{j}_kernel"] = Categorical((5, 3, 7), allowed=(1, 3, 5, 7))
                choices[f"s{i}_b{j}_expand"] = Categorical((4, 3, 6), allowed=(1, 2, 3, 4, 6))
        return choices

    def is_active(self, name: str, arch: Architecture) -> bool:
        if "_b" not in name:
            return True
        stage, block = name.split("_")[:2]
        return int(block[1:]) <= int(arch[f"{stage}_depth"])

    def depth_choices(self) -> list[str]:
        return [f"s{i}_depth" for i in range(1, len(STAGES) + 1)]

    def build(self, arch: Architecture, spec: TaskSpec) -> MobileNetV3:
        arch = self.validate(arch)
        return MobileNetV3(block_settings(arch, spec.input_dim), float(arch["width_mult"]),
                           spec.input_dim, spec.num_classes)

    # -- latency-table units: the stem, each inverted residual, the head ---------
    def latency_keys(self, arch: Architecture, spec: TaskSpec) -> list[str]:
        width = float(arch["width_mult"])
        side = int(spec.input_size or 32)
        keys = [f"stem|{spec.input_dim}>{make_divisible(STEM_CHANNELS * width)}|{side}"]
        for _stage, in_ch, out_ch, kernel, expand, stride, use_se, act in block_settings(arch):
            keys.append(f"mbconv|{in_ch}>{out_ch}|{side}|k{kernel}|e{expand}|s{stride}"
                        f"|se{int(use_se)}|{act}")
            side = math.ceil(side / stride)
        last = make_divisible(STAGES[-1][0] * width)
        features = make_divisible(STAGES[-1][0] * FINAL_EXPAND * width)
        keys.append(f"mbhead|{last}>{features}>{spec.num_classes}|{side}")
        return keys

    def latency_units(self, model: Any, arch: Architecture, spec: TaskSpec) -> list[LatencyUnit]:
        blocks = [block for stage in model.stages for block in stage]

        def head(h: Any) -> Any:
            return model.classifier(model.final_expand(h).mean(dim=(2, 3)))

        return list(zip(self.latency_keys(arch, spec), [model.stem, *blocks, head]))

    def latency_covering(self) -> Iterable[Architecture]:
        """Every stage at full depth, per width; block ``b`` of the ``t``-th arch takes the
        ``t``-th (kernel, expand) combination of its own choices (cycling), so every block
        position meets every combination it allows."""
        choices = self.choices()
        blocks: dict[str, tuple[str, str]] = {
            name[: -len("_kernel")]: (name, name[: -len("_kernel")] + "_expand")
            for name in choices if name.endswith("_kernel")
        }
        combos = {block: list(itertools.product(choices[k].grid(), choices[e].grid()))
                  for block, (k, e) in blocks.items()}
        count = max(len(c) for c in combos.values())
        for width in choices["width_mult"].grid():
            for t in range(count):
                arch: dict[str, Any] = {"width_mult": width}
                for name in choices:
                    if name.endswith("_depth"):
                        arch[name] = max(choices[name].grid())
                for block, (kernel, expand) in blocks.items():
                    arch[kernel], arch[expand] = combos[block][t % len(combos[block])]
                yield Architecture(arch)

    def latency_input(self, spec: TaskSpec, batch_size: int) -> torch.Tensor:
        return random_images(spec, batch_size)


def block_settings(arch: Architecture, in_channels: int = 3) -> list[tuple]:  # type: ignore[type-arg]
    """Every active block as ``(stage, in_ch, out_ch, kernel, expand, stride, use_se, act)``.

    One source of truth for :class:`MobileNetV3` and the latency table.
    """
    width = float(arch["width_mult"])
    channels = make_divisible(STEM_CHANNELS * width)
    blocks = []
    for i, (out, stride, use_se, act) in enumerate(STAGES, start=1):
        out_ch = make_divisible(out * width)
        for j in range(1, int(arch[f"s{i}_depth"]) + 1):
            blocks.append((i, channels, out_ch, int(arch[f"s{i}_b{j}_kernel"]),
                           float(arch[f"s{i}_b{j}_expand"]), stride if j == 1 else 1, use_se, act))
            channels = out_ch
    return blocks


class MobileNetV3(nn.Module):
    """Stem, five stages of inverted residuals, 1x1 expansion, global pooling, linear classifier."""

    def __init__(self, blocks: list[tuple], width_mult: float, in_channels: int,  # type: ignore[type-arg]
                 num_classes: int) -> None:
        super().__init__()
        stem = make_divisible(STEM_CHANNELS * width_mult)
        self.stem = ConvBNAct(in_channels, stem, 3, act="hswish")
        stages: list[nn.ModuleList] = [nn.ModuleList() for _ in STAGES]
        for stage, in_ch, out_ch, kernel, expand, stride, use_se, act in blocks:
            stages[stage - 1].append(InvertedResidual(in_ch, out_ch, kernel=kernel,
                                                      expand_ratio=expand, stride=stride,
                                                      use_se=use_se, act=act))
        self.stages = nn.ModuleList(stages)
        last = make_divisible(STAGES[-1][0] * width_mult)
        features = make_divisible(STAGES[-1][0] * FINAL_EXPAND * width_mult)
        self.final_expand = ConvBNAct(last, features, 1, act="hswish")
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)
        for stage in self.stages:
            for block in stage:
                x = block(x)
        return self.classifier(self.final_expand(x).mean(dim=(2, 3)))
