"""What a task feeds its models, stated from the *raw* data a user has.

A task preprocesses (graph features row-normalised, images scaled by a channel
mean/std, characters mapped through a vocabulary). A model exported without
that step gives silently wrong answers on the user's raw data, so every task
describes its preprocessing as :class:`RawInputs`: a small ``torch.nn.Module``
(``transform``: raw tensors → the model's inputs) that the exporter puts in
front of the network, traced into TorchScript and ONNX, plus real raw batches
to check it on.

The transforms are rebuilt by :func:`build_transform` from ``(class path,
params)`` of plain types stored in ``model.pt``, so ``nas.load`` needs no data
set. They use only traceable tensor ops (no Python branches on values).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from search_spaces import Batch

__all__ = [
    "RawInputs",
    "RowNormalize",
    "FloatFeatures",
    "ImagePixels",
    "CharacterCodes",
    "PassThrough",
    "build_transform",
    "transform_spec",
]


@dataclass(frozen=True)
class RawInputs:
    """A task's raw inputs: names, varying axes, the preprocessing module and real examples.

    ``transform(*raw) -> tuple`` of the model's inputs; ``example(batch_size,
    seed)`` a real raw batch; ``smaller(batch)`` the same kind of batch at
    another size (fewer nodes, fewer images, a shorter sequence) for parity
    checks; ``split(name)`` a whole split's raw inputs and targets (to measure
    the exported model's accuracy); ``recipe`` one sentence with code saying
    what raw input is expected. ``names``/``dynamic_axes`` name the ONNX graph's
    inputs (and ``logits``) and the dimensions that may vary.
    """

    names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    transform: nn.Module
    example: Callable[[int, int], Batch]
    smaller: Callable[[Batch], Batch]
    split: Callable[[str], Batch]
    recipe: str
    #: plain data the user needs beside the model (e.g. ``vocabulary``), stored in the export
    extra: Mapping[str, Any] = field(default_factory=dict)


class PassThrough(nn.Module):
    """No preprocessing: the raw inputs are the model's inputs."""

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(inputs)

    def params(self) -> dict[str, Any]:
        return {}


class RowNormalize(nn.Module):
    """Node features divided by their row sums (Kipf & Welling 2017); edges unchanged.

    The same expression as the task's, so the exported model sees bit-identical inputs.
    """

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float()
        return x / x.sum(dim=1, keepdim=True).clamp(min=1e-12), edge_index

    def params(self) -> dict[str, Any]:
        return {}


class FloatFeatures(nn.Module):
    """Node features as float32, unchanged (a task with ``normalize = false``); edges unchanged."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.float(), edge_index

    def params(self) -> dict[str, Any]:
        return {}


class ImagePixels(nn.Module):
    """uint8 RGB images ``(N, H, W, 3)`` (as image files and arrays hold them) → normalised NCHW.

    ``pool`` > 1 average-pools by that factor after normalising (the task's
    reduced image sizes); ``resize`` > 0 resizes bilinearly to that side.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], pool: int = 1,
                 resize: int = 0) -> None:
        super().__init__()
        self.mean_values, self.std_values = [float(v) for v in mean], [float(v) for v in std]
        self.pool, self.resize = int(pool), int(resize)
        self.register_buffer("mean", torch.tensor(self.mean_values).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.std_values).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor]:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        x = (x - self.mean) / self.std
        if self.pool > 1:
            x = torch.nn.functional.avg_pool2d(x, self.pool)
        if self.resize > 0:
            x = torch.nn.functional.interpolate(x, size=self.resize, mode="bilinear",
                                                align_corners=False)
        return (x,)

    def params(self) -> dict[str, Any]:
        return {"mean": self.mean_values, "std": self.std_values, "pool": self.pool,
                "resize": self.resize}


class CharacterCodes(nn.Module):
    """Unicode code points ``(N, T)`` int64 → token ids through the stored vocabulary.

    A code point outside the vocabulary maps to token ``unknown`` (the traced
    graph cannot raise); the card lists the vocabulary.
    """

    def __init__(self, vocabulary: str, unknown: int = 0) -> None:
        super().__init__()
        self.vocabulary, self.unknown = str(vocabulary), int(unknown)
        codes = [ord(c) for c in self.vocabulary]
        table = torch.full((max(codes) + 2,), self.unknown, dtype=torch.long)
        table[torch.tensor(codes)] = torch.arange(len(codes))
        self.register_buffer("table", table, persistent=False)

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor]:
        last = self.table.shape[0] - 1  # always `unknown`: out-of-range code points land there
        return (self.table[codes.long().clamp(min=0, max=last)],)

    def params(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "unknown": self.unknown}


def transform_spec(transform: nn.Module) -> dict[str, Any]:
    """``{"class": "module.Name", "params": {...}}``: plain data that rebuilds ``transform``."""
    kind = type(transform)
    return {"class": f"{kind.__module__}.{kind.__qualname__}", "params": dict(transform.params())}


def build_transform(spec: Mapping[str, Any]) -> nn.Module:
    """The transform :func:`transform_spec` described (imports its module, e.g. a plugin's)."""
    module_name, _, class_name = str(spec["class"]).rpartition(".")
    kind = getattr(importlib.import_module(module_name), class_name)
    return kind(**dict(spec.get("params") or {})).eval()


def fewer_rows(batch: Batch, fraction: float = 0.5) -> Batch:
    """The first ``fraction`` of a batch's rows (another batch size), at least one."""
    keep = max(1, int(batch.inputs[0].shape[0] * fraction))
    mask = None if batch.mask is None else batch.mask[:keep]
    return Batch(tuple(t[:keep] for t in batch.inputs), batch.targets[:keep], mask)


def induced_subgraph(batch: Batch, seed: int = 1, fraction: float = 2 / 3) -> Batch:
    """The subgraph on a seeded ``fraction`` of the nodes, with the edges among them."""
    x, edge_index = batch.inputs[0], batch.inputs[1]
    count = x.shape[0]
    keep = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    keep = keep[: max(2, int(count * fraction))].sort().values.to(x.device)
    renumber = torch.full((count,), -1, dtype=torch.long, device=x.device)
    renumber[keep] = torch.arange(len(keep), device=x.device)
    source, target = renumber[edge_index[0]], renumber[edge_index[1]]
    inside = (source >= 0) & (target >= 0)
    edges = torch.stack([source[inside], target[inside]]).to(edge_index.dtype)
    mask = None if batch.mask is None else batch.mask[keep]
    return Batch((x[keep], edges, *batch.inputs[2:]), batch.targets[keep], mask)


def shorter_sequences(batch: Batch, fraction: float = 0.5) -> Batch:
    """The first ``fraction`` of every sequence's positions (a shorter sequence), at least one."""
    keep = max(1, int(batch.inputs[0].shape[1] * fraction))
    return Batch(tuple(t[:, :keep] for t in batch.inputs), batch.targets[:, :keep],
                 None if batch.mask is None else batch.mask[:, :keep])
