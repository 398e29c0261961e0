"""A GraphGym-style design space for node classification (You, Ying & Leskovec 2020).

Each architecture is: input dropout → ``pre_layers`` linear layers (the first
one is the feature encoder) → ``mp_layers`` message-passing layers of one conv
type, with optional batch norm and skip connections (sum or concat, as
GraphGym's ``skipsum``/``skipconcat``) → ``post_layers`` linear layers whose
last one is the classifier → optional personalised-PageRank propagation of the
logits (APPNP, Klicpera et al. 2019). The learning rate and weight decay are
part of the space, as in GraphGym.

``mp_layers = 0`` is allowed: with propagation it is APPNP's decoupled
"predict, then propagate" network (an MLP whose logits are smoothed over the
graph), the best-known design on the citation graphs (Cora ~83-84% against
~81.5% for a 2-layer GCN); without propagation it is the graph-free MLP
baseline. ``conv`` (and ``heads``/``aggregation``) then have no effect.

Module layout (the supernet slices these by name): ``encoder`` (ModuleList of
Linear), ``encoder_norms``, ``convs``, ``conv_norms``, ``head`` (ModuleList
of Linear), ``activations``; ``heads`` and ``aggregation`` only matter for the
conv types that have them (``gat``/``gatv2`` and ``sage``/``gin``/``graphconv``),
and ``encode()`` keeps them so any predictor sees the full choice vector.

>>> space = GNNSpace()
>>> arch = space.default()
>>> arch["conv"]
'gcn'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces._base import Categorical, Choice, FloatRange, IntRange, SearchSpace, TaskSpec
from search_spaces._registry import register_space

__all__ = ["GNNSpace", "GNNModel", "CONV_TYPES"]

CONV_TYPES = ("gcn", "gat", "gatv2", "sage", "gin", "graphconv", "tag")
_WITH_HEADS = ("gat", "gatv2")
_WITH_AGGREGATION = ("sage", "gin", "graphconv")


@register_space("gnn")
class GNNSpace(SearchSpace):
    """Conv type, depth (pre / message passing / post), width, heads, activation,
    dropout, batch norm, skip connections, aggregation, propagation, lr and weight decay."""

    families = ("graph",)

    def base_choices(self) -> dict[str, Choice]:
        return {
            "conv": Categorical(CONV_TYPES),
            "pre_layers": IntRange(1, 2),
            "mp_layers": IntRange(0, 3, default=2),
            "post_layers": IntRange(1, 2),
            "hidden_dim": Categorical((64, 16, 32, 128, 256)),
            "heads": Categorical((1, 2, 4, 8)),
            "activation": Categorical(("relu", "prelu", "elu", "gelu")),
            "dropout": Categorical((0.5, 0.0, 0.2, 0.6, 0.8)),
            "batch_norm": Categorical((False, True)),
            "skip": Categorical(("none", "sum", "concat")),
            "aggregation": Categorical(("mean", "max", "add")),
            "propagation_steps": Categorical((0, 5, 10)),
            "lr": FloatRange(1e-3, 5e-2, log=True, default=1e-2),
            "weight_decay": FloatRange(1e-5, 1e-2, log=True, default=5e-4),
        }

    def check(self, arch: Architecture) -> None:
        if arch["conv"] in _WITH_HEADS and int(arch["hidden_dim"]) % int(arch["heads"]):
            raise InvalidArchitecture(
                f"gnn: hidden_dim {arch['hidden_dim']} is not divisible by heads {arch['heads']} "
                f"(attention heads split the hidden dim)"
            )

    def active_choices(self, arch: Mapping[str, Any]) -> frozenset[str]:
        """Without message passing the conv, its heads and aggregation and the skips do nothing;
        heads only matter for attention convs, aggregation only for the convs that take one."""
        unused = set()
        if int(arch["mp_layers"]) == 0:
            unused |= {"conv", "heads", "aggregation", "skip"}
        if arch["conv"] not in _WITH_HEADS:
            unused.add("heads")
        if arch["conv"] not in _WITH_AGGREGATION:
            unused.add("aggregation")
        return frozenset(arch) - unused

    def largest(self) -> Architecture:
        return self._extreme(max)

    def smallest(self) -> Architecture:
        return self._extreme(min)

    def _extreme(self, pick: Any) -> Architecture:
        choices = self.choices()
        arch = dict(self.default())
        for name in ("pre_layers", "mp_layers", "post_layers", "hidden_dim", "heads",
                     "propagation_steps"):
            arch[name] = pick(choices[name].grid())
        big = pick is max
        for name, wanted in (("skip", "concat" if big else "none"),
                             ("batch_norm", big), ("activation", "prelu" if big else "relu")):
            if choices[name].contains(wanted):
                arch[name] = wanted
        return Architecture(arch)

    def build(self, arch: Architecture, spec: TaskSpec) -> GNNModel:
        arch = self.validate(arch)
        return GNNModel(arch, spec.input_dim, spec.num_classes)


def _make_conv(kind: str, in_dim: int, out_dim: int, heads: int, aggregation: str) -> Any:
    from torch_geometric import nn as gnn

    if kind == "gcn":
        return gnn.GCNConv(in_dim, out_dim)
    if kind == "gat":
        return gnn.GATConv(in_dim, out_dim // heads, heads=heads)
    if kind == "gatv2":
        return gnn.GATv2Conv(in_dim, out_dim // heads, heads=heads)
    if kind == "sage":
        return gnn.SAGEConv(in_dim, out_dim, aggr=aggregation)
    if kind == "gin":
        mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
        return gnn.GINConv(mlp, aggr=aggregation, train_eps=True)
    if kind == "graphconv":
        return gnn.GraphConv(in_dim, out_dim, aggr=aggregation)
    if kind == "tag":
        return gnn.TAGConv(in_dim, out_dim, K=2)
    raise InvalidArchitecture(f"gnn: unknown conv '{kind}'; known: {', '.join(CONV_TYPES)}")


def _make_activation(name: str) -> Any:
    return {"relu": nn.ReLU, "prelu": nn.PReLU, "elu": nn.ELU, "gelu": nn.GELU}[name]()


class GNNModel(nn.Module):
    """The standalone network of one ``gnn`` architecture: ``forward(x, edge_index) -> logits``.

    ``x`` may be a sparse COO tensor (training on bag-of-words features):
    input dropout then touches only the non-zeros and the encoder uses a
    sparse matmul; dense ``x`` (evaluation, export) takes the ordinary path.
    """

    def __init__(self, arch: Architecture, in_dim: int, num_classes: int) -> None:
        super().__init__()
        hidden = int(arch["hidden_dim"])
        self.dropout = float(arch["dropout"])
        self.skip = str(arch["skip"])
        self.encoder = nn.ModuleList(
            [nn.Linear(in_dim if i == 0 else hidden, hidden) for i in range(int(arch["pre_layers"]))]
        )
        norm = (lambda: nn.BatchNorm1d(hidden)) if arch["batch_norm"] else nn.Identity
        self.encoder_norms = nn.ModuleList([norm() for _ in self.encoder])
        self.convs = nn.ModuleList()
        width = hidden
        for _ in range(int(arch["mp_layers"])):
            self.convs.append(_make_conv(str(arch["conv"]), width, hidden, int(arch["heads"]),
                                         str(arch["aggregation"])))
            width = width + hidden if self.skip == "concat" else hidden
        self.conv_norms = nn.ModuleList([norm() for _ in self.convs])
        post = int(arch["post_layers"])
        self.head = nn.ModuleList(
            [nn.Linear(width if i == 0 else hidden, hidden if i < post - 1 else num_classes)
             for i in range(post)]
        )
        n_activations = len(self.encoder) + len(self.convs) + post - 1
        self.activations = nn.ModuleList(
            [_make_activation(str(arch["activation"])) for _ in range(n_activations)]
        )
        steps = int(arch["propagation_steps"])
        if steps:
            from torch_geometric.nn import APPNP

            self.propagation: nn.Module | None = APPNP(K=steps, alpha=0.1)
        else:
            self.propagation = None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        act = iter(self.activations)
        h = self._encode_input(x)
        h = F.dropout(next(act)(self.encoder_norms[0](h)), self.dropout, self.training)
        for layer, norm in zip(self.encoder[1:], self.encoder_norms[1:]):
            h = F.dropout(next(act)(norm(layer(h))), self.dropout, self.training)
        for conv, norm in zip(self.convs, self.conv_norms):
            out = F.dropout(next(act)(norm(conv(h, edge_index))), self.dropout, self.training)
            if self.skip == "sum":
                h = h + out
            elif self.skip == "concat":
                h = torch.cat([h, out], dim=-1)
            else:
                h = out
        for layer in self.head[:-1]:
            h = F.dropout(next(act)(layer(h)), self.dropout, self.training)
        logits = self.head[-1](h)
        if self.propagation is not None:
            logits = self.propagation(logits, edge_index)
        return logits

    def _encode_input(self, x: torch.Tensor) -> torch.Tensor:
        first = self.encoder[0]
        if x.is_sparse:
            x = x.coalesce()
            values = F.dropout(x.values(), self.dropout, self.training)
            x = torch.sparse_coo_tensor(x.indices(), values, x.shape, check_invariants=False)
            return torch.sparse.mm(x, first.weight.t()) + first.bias
        return first(F.dropout(x, self.dropout, self.training))
