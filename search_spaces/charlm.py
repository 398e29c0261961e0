"""A decoder-only transformer space for character language modelling.

The searchable parts follow HAT (Wang et al. 2020) and AutoFormer (Chen et al.
2021): the number of layers, one model dim shared by all layers, and per layer
the attention heads and the feed-forward width. Choices:

* ``num_layers`` in {2, 3, 4, 6}; ``model_dim`` in {64, 96, 128, 192};
* ``layer{i}_heads`` in {2, 4, 8} and ``layer{i}_ffn_dim`` in {128, 256, 512}
  for ``i = 1 .. 6``. Choices of layers ``i > num_layers`` are sampled but
  ignored (and zeroed by :meth:`encode`).
* ``lr_scale`` in {1.0}: a multiple of the evaluator's lr (a training choice, no
  shape: :meth:`TrainEvaluator.settings` multiplies the lr by it). A study may
  widen it to ``_LR_SCALES``: with nanoGPT's 2,000-step budget a deeper, wider
  model wants a higher peak lr than nanoGPT's 1e-3, while the preset keeps 1.
  Architectures stored before it existed were trained with 1.0, and get it.
* ``pos_embed_std`` in {0.02}: the std of the position table's initial values. The
  token table starts at PyTorch's N(0, 1), so at 0.02 position is ~50x fainter than
  the token in the residual stream and a model sits on the bigram plateau for
  hundreds of steps before attention uses order; 1.0 (a study may widen to it) leaves
  the plateau after ~150 steps (6 x 192, lr 2e-3: 1.95 against 2.24 nats of train
  loss at step 500). Stored architectures were built with 0.02, and get it.

A study file's ``[space.choices]`` may narrow these or pick other values from
wider sets (``num_layers`` 1-6, ``model_dim`` 32-256, heads 1-8, FFN 64-1024;
see ``_DIMS`` …). Every heads value must divide every ``model_dim`` value; an
override that breaks this is a :class:`ConfigError` naming the field.

Module layout (a supernet slices these, see ``search_spaces/_transformer.py``):
``token_embed`` (``Embedding(vocab, dim)``), ``pos_embed`` (parameter
``(1, seq_len, dim)``, sliced on the dim only), ``blocks`` (``ModuleList`` of
causal :class:`TransformerBlock`), ``norm`` (``LayerNorm(dim)``), ``head``
(``Linear(dim, vocab)``). ``forward(tokens (B, T) long) -> logits (B, T, vocab)``
for any ``T <= seq_len``.

>>> space = CharLMSpace()
>>> space.largest()["num_layers"]
6
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.nn as nn

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces._base import Categorical, Choice, LatencyUnit, TaskSpec
from search_spaces._latency import per_layer_covering, random_tokens, transformer_block_key
from search_spaces._layered import LayeredSpace
from search_spaces._registry import register_space
from search_spaces._transformer import TransformerBlock

__all__ = ["CharLMSpace", "CharLM", "MAX_LAYERS"]

MAX_LAYERS = 6
#: what a study file's ``[space.choices]`` may pick from (the defaults are a subset)
_DIMS = (32, 48, 64, 96, 128, 192, 256)
_HEADS = (1, 2, 3, 4, 6, 8)
_FFN_DIMS = (64, 128, 256, 384, 512, 768, 1024)
#: the multiples of the evaluator's lr a study may offer (``lr_scale``)
_LR_SCALES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: the initial stds of the position table a study may offer (``pos_embed_std``)
_POS_EMBED_STDS = (0.02, 1.0)
#: what an architecture stored before a choice existed was trained with
_LEGACY = {"lr_scale": 1.0, "pos_embed_std": 0.02}


@register_space("charlm")
class CharLMSpace(LayeredSpace):
    """Layers, model dim, and per layer the heads and FFN dim of a causal transformer."""

    families = ("sequence",)

    #: nanoGPT's CPU recipe for tiny-shakespeare (Karpathy, ``config/train_shakespeare_char.py``
    #: with its README's CPU overrides): 4 layers, 4 heads, width 128, FFN 4 x 128, no dropout.
    #: Context (64) and batch (12) are the task's ``seq_len`` and ``batch_size``.
    baselines = {
        "nanogpt-cpu": {"num_layers": 4, "model_dim": 128,
                        **{f"layer{i}_heads": 4 for i in range(1, MAX_LAYERS + 1)},
                        **{f"layer{i}_ffn_dim": 512 for i in range(1, MAX_LAYERS + 1)},
                        "lr_scale": 1.0, "pos_embed_std": 0.02},
    }

    def base_choices(self) -> dict[str, Choice]:
        choices: dict[str, Choice] = {
            "num_layers": Categorical((4, 2, 3, 6), allowed=tuple(range(1, MAX_LAYERS + 1))),
            "model_dim": Categorical((128, 64, 96, 192), allowed=_DIMS),
        }
        for i in range(1, MAX_LAYERS + 1):
            choices[f"layer{i}_heads"] = Categorical((4, 2, 8), allowed=_HEADS)
            choices[f"layer{i}_ffn_dim"] = Categorical((256, 128, 512), allowed=_FFN_DIMS)
        choices["lr_scale"] = Categorical((1.0,), allowed=_LR_SCALES)
        choices["pos_embed_std"] = Categorical((0.02,), allowed=_POS_EMBED_STDS)
        return choices

    def legacy_values(self, arch: Mapping[str, Any]) -> Mapping[str, Any]:
        """An architecture stored before ``lr_scale`` or ``pos_embed_std`` existed gets the
        value it was trained with (:data:`_LEGACY`)."""
        return _LEGACY

    def is_active(self, name: str, arch: Architecture) -> bool:
        if name.startswith("layer"):
            return int(name[len("layer"):].split("_", 1)[0]) <= int(arch["num_layers"])
        return True

    def depth_choices(self) -> list[str]:
        return ["num_layers"]

    def _check_choices(self) -> None:
        self._check_heads_divide("model_dim", [f"layer{i}_heads" for i in range(1, MAX_LAYERS + 1)])

    def check(self, arch: Architecture) -> None:
        if int(arch["num_layers"]) > MAX_LAYERS:
            raise InvalidArchitecture(f"charlm: num_layers {arch['num_layers']} is above {MAX_LAYERS}")
        self._check_arch_heads(arch, int(arch["model_dim"]),
                               [f"layer{i}_heads" for i in range(1, MAX_LAYERS + 1)])

    def build(self, arch: Architecture, spec: TaskSpec) -> CharLM:
        arch = self.validate(arch)
        if spec.input_size is None:
            raise InvalidArchitecture("charlm: the task spec needs input_size (the sequence length)")
        layers = [(int(arch[f"layer{i}_heads"]), int(arch[f"layer{i}_ffn_dim"]))
                  for i in range(1, int(arch["num_layers"]) + 1)]
        return CharLM(spec.input_dim, int(spec.input_size), int(arch["model_dim"]), layers,
                      pos_embed_std=float(arch["pos_embed_std"]))

    # -- latency-table units: the token embedding, each causal block, the LM head ------
    def latency_keys(self, arch: Architecture, spec: TaskSpec) -> list[str]:
        tokens, dim, vocab = int(spec.input_size or 64), int(arch["model_dim"]), spec.input_dim
        keys = [f"tokembed|v{vocab}|d{dim}|t{tokens}"]
        for i in range(1, int(arch["num_layers"]) + 1):
            keys.append(transformer_block_key(tokens, dim, int(arch[f"layer{i}_heads"]),
                                              int(arch[f"layer{i}_ffn_dim"]), True))
        keys.append(f"lmhead|t{tokens}|d{dim}|v{spec.num_classes}")
        return keys

    def latency_units(self, model: Any, arch: Architecture, spec: TaskSpec) -> list[LatencyUnit]:
        def embed(tokens: Any) -> Any:
            return model.token_embed(tokens) + model.pos_embed[:, : tokens.shape[1]]

        def head(x: Any) -> Any:
            return model.head(model.norm(x))

        return list(zip(self.latency_keys(arch, spec), [embed, *model.blocks, head]))

    def latency_covering(self) -> Iterable[Architecture]:
        return per_layer_covering(self, "num_layers")

    def latency_input(self, spec: TaskSpec, batch_size: int) -> torch.Tensor:
        return random_tokens(spec, batch_size)


class CharLM(nn.Module):
    """Token + learned position embeddings, causal pre-norm blocks, final norm, LM head."""

    def __init__(self, vocab: int, seq_len: int, dim: int, layers: list[tuple[int, int]],
                 *, pos_embed_std: float = 0.02) -> None:
        super().__init__()
        self.token_embed = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, seq_len, dim))
        nn.init.normal_(self.pos_embed, std=pos_embed_std)
        self.blocks = nn.ModuleList(
            [TransformerBlock(dim, heads, ffn, causal=True) for heads, ffn in layers]
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embed(tokens) + self.pos_embed[:, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))
