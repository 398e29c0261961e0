"""The NAS-Bench-201 network in torch (Dong & Yang 2020, "NAS-Bench-201").

Rebuilt from the paper's description so that parameter counts match the
benchmark exactly: a 3x3 conv stem, three stages of ``N`` cells with ``C``,
``2C`` and ``4C`` channels, a residual reduction block between stages, a final
BN-ReLU, global average pooling and a linear classifier.

A cell is a DAG over 4 nodes; node ``j`` sums one operation per earlier node
``i < j``. The five operations are public (:data:`OPS`, :class:`ReLUConvBN`,
:class:`Zero`, :class:`ResNetBasicBlock`) so a supernet can reuse them.
Every op of a cell is instantiated, ``none`` included (as in the benchmark's
``InferCell``); ``none`` multiplies by zero, so the graph stays static and
traceable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

__all__ = [
    "OP_NAMES",
    "EDGES",
    "OPS",
    "ReLUConvBN",
    "Zero",
    "ResNetBasicBlock",
    "NB201Cell",
    "NB201Network",
]

#: the benchmark's operation names, in its own order
OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

#: ``(to_node, from_node)`` of ``edge_0``..``edge_5``, in arch-string order
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm, the benchmark's convolution unit."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: an all-zero output of the input's shape (keeps the graph static)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _avg_pool(channels: int) -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


#: op name -> constructor taking the channel count (cells keep shape: stride 1, C -> C)
OPS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": _avg_pool,
}


class ResNetBasicBlock(nn.Module):
    """The reduction block between stages: two ReLUConvBN (first one strided) plus a
    2x2 average pool + 1x1 conv shortcut, as in NAS-Bench-201."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Cell(nn.Module):
    """One cell: ``edges[k]`` (op ``ops[k]``) carries node ``from`` into node ``to``."""

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        if len(ops) != len(EDGES):
            raise ValueError(f"a cell needs {len(EDGES)} ops, got {len(ops)}")
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(OPS[op](channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            nodes.append(sum(
                self.edges[k](nodes[src]) for k, (dst, src) in enumerate(EDGES) if dst == to
            ))
        return nodes[3]


class NB201Network(nn.Module):
    """Stem, ``3 x cells_per_stage`` cells with two reduction blocks, BN-ReLU, pool, classifier.

    ``forward(images)`` takes NCHW images and returns ``(batch, num_classes)`` logits.
    """

    def __init__(
        self,
        ops: Sequence[str],
        num_classes: int,
        in_channels: int = 3,
        channels: int = 16,
        cells_per_stage: int = 5,
    ) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        layers: list[nn.Module] = []
        c_prev = channels
        for stage, width in enumerate((channels, 2 * channels, 4 * channels)):
            if stage > 0:
                layers.append(ResNetBasicBlock(c_prev, width))
            layers.extend(NB201Cell(ops, width) for _ in range(cells_per_stage))
            c_prev = width
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(images)))
        pooled = self.global_pooling(features).flatten(1)
        return self.classifier(pooled)
