"""The NAS-Bench-201 one-shot supernet (SPOS, Guo et al. 2020, on Dong & Yang 2020's cell).

Every edge of every cell holds one weight set per operation (``<op>/cells.<i>.edges.<k>``
slots); an architecture picks one op per edge, and training samples architectures
uniformly (single-path one-shot). Stem, reduction blocks and classifier are
shared by all. Evaluation recalibrates batch norm per subnet, which SPOS found
essential for ranking.

NB201's ops have fixed shapes, so no weight is ever sliced: every shared layer
*is* the layer a standalone model needs. Instead of the generic template +
``functional_call`` path (a fresh ``space.build(arch)`` per architecture, whose
Python cost per training step ``benchmarks/nb201_supernet_step.py`` prints), the supernet
keeps one persistent *mixed* network (the classic SPOS mixed op): each cell edge
holds its candidate ops, whose convolutions and batch norms are the shared
layers themselves, and a forward pass runs only the chosen op of each live
edge. ``extract(arch)`` is still ``space.build(arch)`` with the same tensors
loaded strictly (the generic machinery), so the two agree exactly; the
state-dict layout (``layers.<slot>``) is the generic one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nas.architecture import Architecture
from search_spaces import Batch, SearchSpace, TaskSpec
from search_spaces._nb201_network import EDGES, NB201Cell, ReLUConvBN
from search_spaces.nb201 import live_edges
from supernets._base import Supernet, _key
from supernets._registry import register_supernet
from supernets.elastic import is_batch_norm, own_state

__all__ = ["NB201Supernet", "live_ops"]

#: ops that map an all-zero input to something else (their batch norm adds a constant)
_CONVOLUTIONS = frozenset({"nor_conv_1x1", "nor_conv_3x3"})
_EDGE = re.compile(r"^cells\.\d+\.edges\.(\d+)(\.|$)")


class _MixedCell(nn.Module):
    """A cell whose edges run whichever candidate op :meth:`choose` picked (``None``: skipped).

    Skipping a ``none`` or dead edge leaves every live sum bit-identical to
    :class:`NB201Cell`'s (which adds ``x * 0``); a node without live inputs is
    ``x * 0``, as there. Convolution edges leaving the same node share one
    ReLU of it (the same values their own ReLUs give, fewer autograd nodes).
    """

    def __init__(self, candidates: dict[str, Sequence[nn.Module]]) -> None:
        super().__init__()
        self.candidates = nn.ModuleDict({op: nn.ModuleList(edges) for op, edges in candidates.items()})
        self.chosen: tuple[nn.Module | None, ...] = (None,) * len(EDGES)
        self._plan: list[list[tuple[int, nn.Module, bool]]] = [[], [], []]

    def choose(self, ops: Sequence[str | None]) -> None:
        self.chosen = tuple(None if op is None else self.candidates[op][k] for k, op in enumerate(ops))
        self._plan = [
            [(src, edge, isinstance(edge, ReLUConvBN))
             for (dst, src), edge in zip(EDGES, self.chosen) if dst == to and edge is not None]
            for to in (1, 2, 3)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        relus: list[torch.Tensor | None] = [None, None, None]
        for edges in self._plan:
            total: torch.Tensor | None = None
            for src, edge, relu_conv_bn in edges:
                if relu_conv_bn:
                    relu = relus[src]
                    if relu is None:
                        relu = relus[src] = torch.relu(nodes[src])
                    out = _conv_bn(relu, edge[1], edge[2])
                else:
                    out = edge(nodes[src])
                total = out if total is None else total + out
            nodes.append(x.mul(0.0) if total is None else total)
        return nodes[3]


def _conv_bn(x: torch.Tensor, conv: nn.Conv2d, norm: nn.Module) -> torch.Tensor:
    """``norm(conv(x))`` without two module calls (most of a training step's Python).

    In training with a momentum the batch norm runs as ``F.batch_norm`` on the
    module's tensors, which is what the module does, except that it does not
    count ``num_batches_tracked`` (only a ``momentum=None`` average reads it,
    and :meth:`NB201Supernet.recalibrate_bn` resets it and calls the module).
    """
    out = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    if norm.training and norm.momentum is not None:
        return F.batch_norm(out, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                            True, norm.momentum, norm.eps)
    return norm(out)


@register_supernet("nb201")
class NB201Supernet(Supernet):
    """One-shot cell: weights per (cell, edge, op); one persistent mixed network runs any arch."""

    def __init__(self, space: SearchSpace, spec: TaskSpec, seed: int = 0) -> None:
        super().__init__(space, spec, seed)
        # Not a registered submodule: its stateful layers are ``self.layers``' own, so the
        # state dict, ``.to()``, ``.train()`` and the optimiser see each tensor once.
        self.__dict__["_mixed"] = self._build_mixed()
        self._live: dict[tuple[str, ...], tuple[str | None, ...]] = {}
        self._chosen_key: tuple[str | None, ...] | None = None

    def slot(self, arch: Architecture, layer: str) -> str:
        match = _EDGE.match(layer)
        if match:
            return f"{arch[f'edge_{match.group(1)}']}/{layer}"
        return layer

    def covering_archs(self) -> list[Architecture]:
        """One arch per op, on every edge that allows it (others keep their first op).

        Edges may allow different ops (a few-shot group fixes one edge's op), so each
        (edge, op) pair of the space is in exactly the arch of that op.
        """
        allowed = {name: list(choice.values)  # type: ignore[union-attr]
                   for name, choice in self.space.choices().items()}
        ops = list(dict.fromkeys(op for values in allowed.values() for op in values))
        # The convolutional ops first: they carry the weights.
        ops.sort(key=lambda op: "conv" not in str(op))
        return [Architecture({edge: op if op in values else values[0]
                              for edge, values in allowed.items()}) for op in ops]

    def fair_archs(self, rng: np.random.Generator) -> list[Architecture]:
        """One architecture per op, each edge taking every op once (FairNAS, Chu et al. 2021).

        Every edge draws its own permutation of its ops, so per step each
        (edge, op) weight set is trained exactly once (with all five ops allowed).
        """
        choices = self.space.choices()
        ops = {name: list(choice.values) for name, choice in choices.items()}  # type: ignore[attr-defined]
        order = {name: rng.permutation(len(values)) for name, values in ops.items()}
        count = max(len(values) for values in ops.values())  # narrowed edges repeat ops
        return [self.space.validate(Architecture({
                    name: values[int(order[name][j % len(values)])] for name, values in ops.items()
                }))
                for j in range(count)]

    # -- the contract, without templates ---------------------------------------
    def set_active(self, arch: Architecture | dict[str, Any]) -> Architecture:
        arch = self.space.validate(arch)
        self._active = arch
        return arch

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._choose(self.active)
        return self._mixed(images)

    @torch.no_grad()
    def recalibrate_bn(self, batches: Iterable[Batch]) -> int:
        """Reset and re-estimate the BN statistics the active subnet uses (momentum ``None``)."""
        self._choose(self.active)
        norms = list(self._shared_norms)
        for cell in self._cells:
            norms.extend(m for edge in cell.chosen if edge is not None
                         for m in edge.modules() if is_batch_norm(m))
        saved = [m.momentum for m in norms]
        was_training = self.training
        for module in norms:
            module.reset_running_stats()
            module.momentum = None
        self.eval()
        for module in norms:
            module.train()
        count = 0
        try:
            for batch in batches:
                self._mixed(*batch.inputs)
                count += 1
        finally:
            for module, momentum in zip(norms, saved):
                module.momentum = momentum
            self.train(was_training)
        return count

    # -- machinery -------------------------------------------------------------
    def _build_mixed(self) -> nn.Module:
        """``space.build`` of the first covering arch, its cells swapped for mixed cells.

        The candidate ops come from ``space.build`` of every covering arch (so they
        keep their strides and paddings); each stateful module's tensors are
        linked to the shared layer of its slot, which holds them at the same shapes.
        """
        archs = [self.space.validate(a) for a in self.covering_archs()]
        nets = []
        links = []
        for arch in archs:
            net = self.space.build(arch, self.spec)
            for name, module in net.named_modules():
                if own_state(module):
                    links.append((module, self.layers[_key(self.slot(arch, name))]))
            nets.append(net)
        # Edge k's candidate for op: taken from the covering arch that has op on edge k; an
        # edge that does not allow op gets a stateless stand-in (validation never picks it).
        ops = list(dict.fromkeys(str(op) for arch in archs for op in arch.values()))
        owner = {(k, str(arch[f"edge_{k}"])): j for j, arch in enumerate(archs)
                 for k in range(len(EDGES))}
        base = nets[0]
        for i, cell in enumerate(base.cells):
            if isinstance(cell, NB201Cell):
                base.cells[i] = _MixedCell({
                    op: [nets[owner[k, op]].cells[i].edges[k] if (k, op) in owner
                         else nn.Identity() for k in range(len(EDGES))]
                    for op in ops})
        self.__dict__["_links"] = links
        self.__dict__["_cells"] = [c for c in base.cells if isinstance(c, _MixedCell)]
        self.__dict__["_shared_norms"] = [
            m for name, m in base.named_modules()
            if is_batch_norm(m) and ".candidates." not in f".{name}."
        ]
        self._link()
        return base

    def _link(self) -> None:
        """Point the mixed network's modules at the shared tensors (again after ``.to()``)."""
        for module, layer in self._links:
            for name in own_state(module):
                if name in module._parameters:
                    module._parameters[name] = layer._parameters[name]
                else:
                    module._buffers[name] = layer._buffers[name]

    def _apply(self, fn: Any, recurse: bool = True) -> NB201Supernet:
        super()._apply(fn, recurse)
        if "_links" in self.__dict__:  # ``.to()`` may give the shared layers new buffers
            self._link()
        return self

    def train(self, mode: bool = True) -> NB201Supernet:
        super().train(mode)
        if "_mixed" in self.__dict__:
            self._mixed.train(mode)
        return self

    def _choose(self, arch: Architecture) -> tuple[str | None, ...]:
        """Point every mixed cell at ``arch``'s ops; ``None`` for ``none`` and dead edges."""
        ops = tuple(str(arch[f"edge_{k}"]) for k in range(len(EDGES)))
        live = self._live.get(ops)
        if live is None:
            live = self._live[ops] = live_ops(ops)
        if live != self._chosen_key:
            for cell in self._cells:
                cell.choose(live)
            self._chosen_key = live
        return live


def live_ops(ops: Sequence[str]) -> tuple[str | None, ...]:
    """``ops`` with ``None`` for each edge that cannot change the cell's output.

    That is a ``none`` edge, an edge whose output reaches node 3 by no other
    live edge, and a skip or pooling edge leaving a node that is always zero.
    A convolution edge leaving a zero node stays: its batch norm turns zeros
    into a constant (``NB201Space.canonical``, NAS-Bench-201's own rule, drops it).
    """
    live = live_edges(ops, signal_from_zero=_CONVOLUTIONS)
    return tuple(op if keep else None for op, keep in zip(ops, live))
