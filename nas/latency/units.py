"""How the elastic spaces split into latency-table units (see :mod:`nas.latency.table`).

For each space three functions agree on one key per unit:

* ``*_keys(arch, spec, batch_size)``: the keys, from the architecture alone;
* ``*_units(model, arch, spec)``: ``(key, callable)`` for every unit of a
  built model, in forward order: each callable takes the previous one's output
  (the first takes the model's input), so chaining them *is* the forward pass
  and the table times every unit inside a real forward pass (caches as warm or
  as cold as they are in one);
* ``*_covering(space)``: a few architectures whose units together are every
  unit any architecture of the space can contain.

A key holds everything that changes a unit's cost: its configuration and its
input's shape (the batch size is the table's own).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

from nas.architecture import Architecture
from search_spaces import TaskSpec

__all__ = [
    "mobilenet_keys", "mobilenet_units", "mobilenet_covering",
    "vit_keys", "vit_units", "charlm_keys", "charlm_units", "transformer_covering",
]

Unit = tuple[str, Any]


# -- mobilenet ------------------------------------------------------------------

def mobilenet_keys(arch: Architecture, spec: TaskSpec, batch_size: int = 1) -> list[str]:
    from search_spaces._mobilenet_blocks import make_divisible
    from search_spaces.mobilenet import FINAL_EXPAND, STAGES, STEM_CHANNELS, block_settings

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


def mobilenet_units(model: Any, arch: Architecture, spec: TaskSpec) -> list[Unit]:
    keys = mobilenet_keys(arch, spec)
    blocks = [block for stage in model.stages for block in stage]

    def head(h: Any) -> Any:
        return model.classifier(model.final_expand(h).mean(dim=(2, 3)))

    return list(zip(keys, [model.stem, *blocks, head]))


def mobilenet_covering(space: Any) -> Iterable[Architecture]:
    """Every stage at full depth, per width; block ``b`` of the ``t``-th arch takes the
    ``t``-th (kernel, expand) combination of its own choices (cycling), so every block
    position meets every combination it allows."""
    choices = space.choices()
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


# -- transformers ----------------------------------------------------------------

def _block_key(tokens: int, dim: int, heads: int, hidden: int, causal: bool) -> str:
    return f"block|t{tokens}|d{dim}|h{heads}|f{hidden}|causal{int(causal)}"


def vit_keys(arch: Architecture, spec: TaskSpec, batch_size: int = 1) -> list[str]:
    side = int(spec.input_size or 32)
    patch, dim = int(arch["patch_size"]), int(arch["embed_dim"])
    tokens = (side // patch) ** 2
    keys = [f"patch|{spec.input_dim}>{dim}|p{patch}|{side}"]
    for i in range(1, int(arch["depth"]) + 1):
        hidden = int(dim * float(arch[f"layer{i}_mlp_ratio"]))
        keys.append(_block_key(tokens, dim, int(arch[f"layer{i}_heads"]), hidden, False))
    keys.append(f"vithead|t{tokens}|d{dim}|c{spec.num_classes}")
    return keys


def vit_units(model: Any, arch: Architecture, spec: TaskSpec) -> list[Unit]:
    def embed(images: Any) -> Any:
        return model.patch_embed(images).flatten(2).transpose(1, 2) + model.pos_embed

    def head(x: Any) -> Any:
        return model.head(model.norm(x).mean(dim=1))

    return list(zip(vit_keys(arch, spec), [embed, *model.blocks, head]))


def charlm_keys(arch: Architecture, spec: TaskSpec, batch_size: int = 1) -> list[str]:
    tokens, dim, vocab = int(spec.input_size or 64), int(arch["model_dim"]), spec.input_dim
    keys = [f"tokembed|v{vocab}|d{dim}|t{tokens}"]
    for i in range(1, int(arch["num_layers"]) + 1):
        keys.append(_block_key(tokens, dim, int(arch[f"layer{i}_heads"]),
                               int(arch[f"layer{i}_ffn_dim"]), True))
    keys.append(f"lmhead|t{tokens}|d{dim}|v{spec.num_classes}")
    return keys


def charlm_units(model: Any, arch: Architecture, spec: TaskSpec) -> list[Unit]:
    def embed(tokens: Any) -> Any:
        return model.token_embed(tokens) + model.pos_embed[:, : tokens.shape[1]]

    def head(x: Any) -> Any:
        return model.head(model.norm(x))

    return list(zip(charlm_keys(arch, spec), [embed, *model.blocks, head]))


def transformer_covering(depth_name: str) -> Callable[[Any], Iterable[Architecture]]:
    """Full depth, for every global choice; layer ``i`` of the ``t``-th arch takes the
    ``t``-th combination of its own fields (cycling), so every layer's every combination
    appears (a block's key does not depend on its position)."""

    def covering(space: Any) -> Iterable[Architecture]:
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

    return covering
