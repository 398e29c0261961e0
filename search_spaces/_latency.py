"""What the spaces with latency-table units share (see :meth:`SearchSpace.latency_keys`).

Random example inputs of an image or a sequence task, the key of a transformer block
(the ``vit`` and ``charlm`` blocks cost the same for the same shape), and the covering
architectures of a space with per-layer choices.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nas.architecture import Architecture
from search_spaces._base import SearchSpace, TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = ["random_images", "random_tokens", "transformer_block_key", "per_layer_covering"]


def random_images(spec: TaskSpec, batch_size: int) -> torch.Tensor:
    """``(batch, channels, side, side)`` standard normal images, seed 0."""
    import torch

    generator = torch.Generator().manual_seed(0)
    side = int(spec.input_size or 32)
    return torch.randn(batch_size, spec.input_dim, side, side, generator=generator)


def random_tokens(spec: TaskSpec, batch_size: int) -> torch.Tensor:
    """``(batch, tokens)`` uniform token ids below the vocabulary size, seed 0."""
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, spec.input_dim, (batch_size, int(spec.input_size or 64)),
                         generator=generator)


def transformer_block_key(tokens: int, dim: int, heads: int, hidden: int, causal: bool) -> str:
    return f"block|t{tokens}|d{dim}|h{heads}|f{hidden}|causal{int(causal)}"


def per_layer_covering(space: SearchSpace, depth_name: str) -> Iterable[Architecture]:
    """Full depth, for every global choice; layer ``i`` of the ``t``-th arch takes the
    ``t``-th combination of its own fields (cycling), so every layer's every combination
    appears (a block's key does not depend on its position)."""
    choices = space.choices()
    globals_ = [n for n in choices if not n.startswith("layer") and n != depth_name]
    layers: dict[str, list[str]] = {}
    for name in choices:
        if name.startswith("layer"):
            layers.setdefault(name.split("_", 1)[0], []).append(name)
    combos = {layer: list(itertools.product(*(choices[n].grid() for n in names)))
              for layer, names in layers.items()}
    count = max((len(c) for c in combos.values()), default=1)
    for values in itertools.product(*(choices[n].grid() for n in globals_)):
        for t in range(count):
            arch: dict[str, Any] = dict(zip(globals_, values))
            arch[depth_name] = max(choices[depth_name].grid())
            for layer, names in layers.items():
                arch.update(zip(names, combos[layer][t % len(combos[layer])]))
            yield Architecture(arch)
