"""An AutoFormer-style vision transformer space (Chen et al. 2021), sized for 32x32 images.

Choices:

* ``patch_size`` in {4, 8} (64 or 16 tokens on CIFAR's 32x32 images);
* ``depth`` in {4, 5, 6}; ``embed_dim`` in {96, 144, 192};
* ``layer{i}_heads`` in {3, 4, 6} and ``layer{i}_mlp_ratio`` in {2.0, 3.0, 4.0}
  for ``i = 1 .. 6``. Choices of layers ``i > depth`` are sampled but ignored
  (and zeroed by :meth:`encode`).

As in AutoFormer, one embed dim is shared by all layers while heads and MLP
ratio vary per layer. A study file's ``[space.choices]`` may narrow these or
pick other values from wider sets (patch 2-16, depth 1-6, dim 48-256, heads
1-8, MLP ratio 1-4; see ``_DIMS`` …). Every heads value must divide every
``embed_dim`` value; an override that breaks this is a :class:`ConfigError`
naming the field.

Module layout (a supernet slices these, see ``search_spaces/_transformer.py``):
``patch_embed`` (``Conv2d(channels, dim, patch, stride=patch)``), ``pos_embed``
(parameter ``(1, tokens, dim)`` with ``tokens = (side // patch) ** 2``),
``blocks`` (``ModuleList`` of :class:`TransformerBlock`, MLP hidden width
``int(dim * mlp_ratio)``), ``norm`` (``LayerNorm(dim)``), ``head``
(``Linear(dim, classes)``). Tokens are mean-pooled before the head (no class
token), so nothing depends on the patch size but ``patch_embed`` and
``pos_embed``. A smaller patch means more tokens, so :meth:`largest` takes the
smallest patch size (a supernet may keep one ``patch_embed``/``pos_embed`` per
patch size, or slice the 8x8 kernel). ``forward(images (B, C, H, W)) -> logits (B, classes)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces._base import Categorical, Choice, LatencyUnit, TaskSpec
from search_spaces._latency import per_layer_covering, random_images, transformer_block_key
from search_spaces._layered import LayeredSpace
from search_spaces._registry import register_space
from search_spaces._transformer import TransformerBlock

__all__ = ["ViTSpace", "VisionTransformer", "MAX_DEPTH"]

MAX_DEPTH = 6
#: what a study file's ``[space.choices]`` may pick from (the defaults are a subset)
_DIMS = (48, 64, 96, 128, 144, 192, 240, 256)
_HEADS = (1, 2, 3, 4, 6, 8)
_MLP_RATIOS = (1.0, 1.5, 2.0, 3.0, 4.0)


@register_space("vit")
class ViTSpace(LayeredSpace):
    """Patch size, depth, embed dim, and per layer the heads and MLP ratio."""

    families = ("image",)

    def base_choices(self) -> dict[str, Choice]:
        choices: dict[str, Choice] = {
            "patch_size": Categorical((4, 8), allowed=(2, 4, 8, 16)),
            "depth": Categorical((4, 5, 6), allowed=tuple(range(1, MAX_DEPTH + 1))),
            "embed_dim": Categorical((96, 144, 192), allowed=_DIMS),
        }
        for i in range(1, MAX_DEPTH + 1):
            choices[f"layer{i}_heads"] = Categorical((4, 3, 6), allowed=_HEADS)
            choices[f"layer{i}_mlp_ratio"] = Categorical((3.0, 2.0, 4.0), allowed=_MLP_RATIOS)
        return choices

    def is_active(self, name: str, arch: Architecture) -> bool:
        if name.startswith("layer"):
            return int(name[len("layer"):].split("_", 1)[0]) <= int(arch["depth"])
        return True

    def depth_choices(self) -> list[str]:
        return ["depth"]

    def _check_choices(self) -> None:
        self._check_heads_divide("embed_dim", [f"layer{i}_heads" for i in range(1, MAX_DEPTH + 1)])

    def largest(self) -> Architecture:
        """Every choice at its maximum but the patch size at its minimum (most tokens)."""
        return self._with_patch(super().largest(), min)

    def smallest(self) -> Architecture:
        return self._with_patch(super().smallest(), max)

    def _with_patch(self, arch: Architecture, pick: Any) -> Architecture:
        return arch.replace(patch_size=pick(self.choices()["patch_size"].grid()))

    def check(self, arch: Architecture) -> None:
        if int(arch["depth"]) > MAX_DEPTH:
            raise InvalidArchitecture(f"vit: depth {arch['depth']} is above {MAX_DEPTH}")
        self._check_arch_heads(arch, int(arch["embed_dim"]),
                               [f"layer{i}_heads" for i in range(1, MAX_DEPTH + 1)])

    def build(self, arch: Architecture, spec: TaskSpec) -> VisionTransformer:
        arch = self.validate(arch)
        side = int(spec.input_size or 32)
        patch = int(arch["patch_size"])
        if side % patch:
            raise InvalidArchitecture(
                f"vit: patch_size {patch} does not divide the image side {side}"
            )
        dim = int(arch["embed_dim"])
        layers = [(int(arch[f"layer{i}_heads"]), int(dim * float(arch[f"layer{i}_mlp_ratio"])))
                  for i in range(1, int(arch["depth"]) + 1)]
        return VisionTransformer(spec.input_dim, side, patch, dim, layers, spec.num_classes)

    # -- latency-table units: the patch embedding, each block, the head ----------------
    def latency_keys(self, arch: Architecture, spec: TaskSpec) -> list[str]:
        side = int(spec.input_size or 32)
        patch, dim = int(arch["patch_size"]), int(arch["embed_dim"])
        tokens = (side // patch) ** 2
        keys = [f"patch|{spec.input_dim}>{dim}|p{patch}|{side}"]
        for i in range(1, int(arch["depth"]) + 1):
            hidden = int(dim * float(arch[f"layer{i}_mlp_ratio"]))
            keys.append(transformer_block_key(tokens, dim, int(arch[f"layer{i}_heads"]), hidden,
                                              False))
        keys.append(f"vithead|t{tokens}|d{dim}|c{spec.num_classes}")
        return keys

    def latency_units(self, model: Any, arch: Architecture, spec: TaskSpec) -> list[LatencyUnit]:
        def embed(images: Any) -> Any:
            return model.patch_embed(images).flatten(2).transpose(1, 2) + model.pos_embed

        def head(x: Any) -> Any:
            return model.head(model.norm(x).mean(dim=1))

        return list(zip(self.latency_keys(arch, spec), [embed, *model.blocks, head]))

    def latency_covering(self) -> Iterable[Architecture]:
        return per_layer_covering(self, "depth")

    def latency_input(self, spec: TaskSpec, batch_size: int) -> torch.Tensor:
        return random_images(spec, batch_size)


class VisionTransformer(nn.Module):
    """Patch embedding, learned positions, pre-norm blocks, mean pooling, linear head."""

    def __init__(self, channels: int, side: int, patch: int, dim: int,
                 layers: list[tuple[int, int]], num_classes: int) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, (side // patch) ** 2, dim))
        nn.init.normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, hidden) for heads, hidden in layers])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(dim=1))
