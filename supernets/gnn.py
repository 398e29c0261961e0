"""The GNN supernet: shared weights across hidden dims and depths, one weight set per conv type.

Every architecture of the ``gnn`` space is a subnet: hidden dims take the
leading channels of the widest layers, depths the first layers (the elastic
depth of Once-for-All, Cai et al. 2020), and each conv type (GCN, GAT,
SAGE …) has its own message-passing weights (``<conv>/convs.<i>`` slots), as
one-shot GNN NAS does (e.g. SANE, Zhao et al. 2021). Learning rate, weight
decay, dropout and propagation steps carry no weights; the supernet ranks the
architecture those leave, not the optimiser settings.

Two slots are split so that one weight never means two things. The output
layer has its own ``classifier`` slot: were it a slice of ``head.0``, the
first hidden units of a two-layer head would double as a one-layer head's
logits, and the small subnets would learn nothing (near-uniform predictions). And layers reading the skip connections' output are split by
skip kind (``concat/…`` vs ``plain/…``): with ``concat`` their first inputs are
the encoder's features, otherwise the last convolution's.

Those ``concat`` layers read ``[encoder, conv 1, conv 2, …]``, one block of
``hidden_dim`` features per step. Their input columns are sliced block by
block (the first ``d`` columns of each block of the largest width), not as one
leading slice: a leading slice would make the columns that read conv 1's
features at width 32 read the encoder's second half at width 64 (what that
cost the ranking: ``benchmarks/README.md``, "gnn on Cora").

Training can draw one architecture per weight set each step
(:meth:`GNNSupernet.fair_archs`, the ``fair`` sampling rule): every conv type's
weights, and the MLP's (``mp_layers = 0``), get the same number of updates.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces.gnn import effective_skip
from supernets._base import Supernet, _key, _layers_with_state
from supernets._registry import register_supernet
from supernets.elastic import own_state
from supernets.sampling import random_arch

__all__ = ["GNNSupernet"]

_SKIP_GROUPS = {"concat": ("concat",), "plain": ("none", "sum")}
_FAIR_TRIES = 100


@register_supernet("gnn")
class GNNSupernet(Supernet):
    """Slots: ``encoder.*``, ``<conv>/[<skip>/]convs.*``, ``[<skip>/]head.*``, ``[<skip>/]classifier``."""

    def slot(self, arch: Architecture, layer: str) -> str:
        group = "concat" if effective_skip(arch) == "concat" else "plain"
        parts = layer.split(".")
        if parts[0] == "convs":
            reads_skip = int(parts[1]) > 0
            return f"{arch['conv']}/" + (f"{group}/" if reads_skip else "") + layer
        if parts[0] == "head":
            index = int(parts[1])
            name = "classifier" if index == int(arch["post_layers"]) - 1 else layer
            return f"{group}/{name}" if index == 0 else name
        return layer

    def subnet_state(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """As :meth:`Supernet.subnet_state`, with concat readers' inputs sliced per block."""
        state = super().subnet_state(arch)
        if effective_skip(arch) != "concat":
            return state
        hidden = int(arch["hidden_dim"])
        for name, module in _layers_with_state(self._template(arch)):
            blocks = _concat_blocks(arch, name)
            weight = own_state(module).get("weight")
            if blocks < 2 or weight is None or weight.dim() != 2 or weight.shape[1] != blocks * hidden:
                continue
            full = own_state(self.layers[_key(self.slot(arch, name))])["weight"]
            state[f"{name}.weight"] = slice_blocks(full, weight.shape[0], blocks, hidden,
                                                   self._widest)
        return state

    def fair_archs(self, rng: np.random.Generator) -> list[Architecture]:
        """One random architecture per weight set: each conv type, and the MLP (``mp_layers`` 0).

        FairNAS's strict fairness (Chu et al. 2021) over the choice that
        selects weights; every other choice is uniform. Shuffled order.
        """
        choices = self.space.choices()
        depths = choices["mp_layers"].grid()
        deep = [d for d in depths if int(d) > 0]
        groups: list[Any] = list(choices["conv"].grid()) if deep else []
        if 0 in depths:
            groups.append(None)
        return [self._fair_arch(groups[i], deep, rng) for i in rng.permutation(len(groups))]

    def _fair_arch(self, conv: str | None, deep: list, rng: np.random.Generator) -> Architecture:
        """A random architecture with conv type ``conv`` (``None``: the MLP, no message passing)."""
        for _ in range(_FAIR_TRIES):  # e.g. a GAT whose heads do not divide hidden_dim: redraw
            arch = dict(random_arch(self.space, rng))
            if conv is None:
                arch["mp_layers"] = 0
            else:
                arch["conv"] = conv
                if int(arch["mp_layers"]) == 0:
                    arch["mp_layers"] = deep[int(rng.integers(len(deep)))]
            try:
                return self.space.validate(Architecture(arch))
            except InvalidArchitecture:
                continue
        raise InvalidArchitecture(f"gnn: no valid architecture with conv '{conv}' in "
                                  f"{_FAIR_TRIES} random draws (fair sampling)")

    @property
    def _widest(self) -> int:
        return max(int(h) for h in self.space.choices()["hidden_dim"].grid())

    def covering_archs(self) -> list[Architecture]:
        choices = self.space.choices()
        largest = dict(self.space.largest())

        def values(name: str) -> list:
            return choices[name].grid()

        heads = sorted(set(values("heads")))
        post = sorted(set(values("post_layers")))
        skips = [next(s for s in members if s in values("skip"))
                 for members in _SKIP_GROUPS.values() if any(s in values("skip") for s in members)]
        out = []
        # Heads change GAT's attention shapes and post_layers which slot is the classifier:
        # span both ends for every conv type and skip group.
        for conv, skip, head, n_post in itertools.product(values("conv"), skips,
                                                          (heads[-1], heads[0]),
                                                          (post[-1], post[0])):
            arch = dict(largest, conv=conv, skip=skip, heads=head, post_layers=n_post)
            out.append(Architecture(arch))
        return list(dict.fromkeys(out))


def _concat_blocks(arch: Architecture, layer: str) -> int:
    """How many ``hidden_dim`` blocks a layer of a ``concat`` architecture reads (1: not a reader)."""
    parts = layer.split(".")
    if parts[0] == "convs":
        return int(parts[1]) + 1
    if parts[0] == "head" and int(parts[1]) == 0:
        return int(arch["mp_layers"]) + 1
    return 1


def slice_blocks(full: torch.Tensor, rows: int, blocks: int, width: int, widest: int) -> torch.Tensor:
    """The first ``rows`` rows and, of each of the first ``blocks`` column blocks, the first ``width``.

    ``full`` has ``n * widest`` columns (``n`` blocks of the largest hidden
    dim); differentiable, and a view when ``width == widest``.
    """
    return full[:rows].reshape(rows, -1, widest)[:, :blocks, :width].reshape(rows, blocks * width)
