"""The NAS-Bench-201 cell space (Dong & Yang 2020): 5 ops on 6 edges, 15,625 architectures.

Choices ``edge_0``..``edge_5`` follow the benchmark's arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: ``edge_0`` = node1<-0, ``edge_1`` =
node2<-0, ``edge_2`` = node2<-1, ``edge_3`` = node3<-0, ``edge_4`` = node3<-1,
``edge_5`` = node3<-2. :meth:`NB201Space.build` builds the exact benchmark
network (C=16, N=5), so parameter counts match the published ones (1.53M for
the all-``nor_conv_3x3`` cell on CIFAR-10).

The benchmark's own index is the row of ``nb201/nb201_accuracy.csv`` (it is
*not* ``itertools.product`` order); the ``nb201-*`` tasks read that table
(:func:`nas.tasks.nb201.load_table`).

>>> arch = arch_from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
...                         "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
>>> arch["edge_3"]
'skip_connect'
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces._base import Categorical, Choice, SearchSpace, TaskSpec
from search_spaces._nb201_network import EDGES, OP_NAMES, NB201Network
from search_spaces._registry import register_space

__all__ = [
    "NB201Space",
    "EDGE_NAMES",
    "OP_NAMES",
    "arch_to_string",
    "arch_from_string",
    "path_encoding",
    "param_count",
    "flop_count",
    "live_edges",
]

EDGE_NAMES: tuple[str, ...] = tuple(f"edge_{k}" for k in range(len(EDGES)))
_NODE_RE = re.compile(r"^\|(.+)\|$")
_SIGNAL_OPS = tuple(op for op in OP_NAMES if op != "none")
# Input->output paths of the cell, as edge indexes (0->3, 0->1->3, 0->2->3, 0->1->2->3).
_PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))


@register_space("nb201")
class NB201Space(SearchSpace):
    """One op per cell edge; the network is NAS-Bench-201's (C=16, N=5)."""

    families = ("image", "tabular")

    def base_choices(self) -> dict[str, Choice]:
        return {name: Categorical(OP_NAMES, default="nor_conv_3x3") for name in EDGE_NAMES}

    def build(self, arch: Architecture, spec: TaskSpec) -> NB201Network:
        arch = self.validate(arch)
        return NB201Network(
            [str(arch[name]) for name in EDGE_NAMES],
            num_classes=spec.num_classes,
            in_channels=spec.input_dim,
        )

    def largest(self) -> Architecture:
        return Architecture(dict.fromkeys(EDGE_NAMES, "nor_conv_3x3"))

    def smallest(self) -> Architecture:
        return Architecture(dict.fromkeys(EDGE_NAMES, "none"))

    def encode(self, arch: Architecture) -> np.ndarray:
        """One-hot ops per edge (30) followed by the path encoding (100, BANANAS).

        The path part (White et al. 2021) counts which op sequences connect the
        input to the output, which is what decides accuracy; dead edges drop out.
        Both parts use all five ops whatever the study's overrides, so vectors
        from different studies line up.
        """
        one_hot = np.zeros((len(EDGE_NAMES), len(OP_NAMES)), dtype=np.float32)
        for k, name in enumerate(EDGE_NAMES):
            one_hot[k, OP_NAMES.index(str(arch[name]))] = 1.0
        return np.concatenate([one_hot.ravel(), path_encoding(arch)])

    def graph(self, arch: Architecture) -> dict[str, object]:
        """The cell as a labelled DAG for graph features (``nas.features``): node 0 is
        the input, node 3 the output, one edge per op that is not ``none``."""
        arch = self.validate(arch)
        return {"nodes": 4, "ops": _SIGNAL_OPS,
                "edges": tuple((src, dst, str(arch[name])) for name, (dst, src) in
                               zip(EDGE_NAMES, EDGES) if arch[name] != "none")}

    def canonical(self, arch: Architecture) -> Architecture:
        """``arch`` with every dead edge set to ``none``: the same network function.

        An edge is dead when no input->output path of non-``none`` edges runs
        through it (its output is never used, or its input is always zero).
        Equivalent architectures share one canonical form (15,625 -> 9,445),
        so a search can skip those equivalent to one it has queried.
        """
        arch = self.validate(arch)
        live = live_edges([str(arch[name]) for name in EDGE_NAMES])
        return Architecture({name: arch[name] if live[k] else "none"
                             for k, name in enumerate(EDGE_NAMES)})


def live_edges(ops: Sequence[str], signal_from_zero: Collection[str] = ()) -> tuple[bool, ...]:
    """Which edges of a cell with ``ops`` can change its output.

    An edge is live when its op is not ``none``, its source node carries signal
    (reached from the input by live edges, or, for an op in ``signal_from_zero``,
    whatever it reads: a convolution's batch norm turns zeros into a constant),
    and its destination reaches the output by live edges. Edges are in
    topological order, so one pass forward and one backward decide it.
    """
    carries_signal = {0}
    forward = []
    for (dst, src), op in zip(EDGES, ops):
        forward.append(op != "none" and (src in carries_signal or op in signal_from_zero))
        if forward[-1]:
            carries_signal.add(dst)
    feeding = {3}  # nodes whose value reaches the output
    for k in reversed(range(len(EDGES))):
        dst, src = EDGES[k]
        if forward[k] and dst in feeding:
            feeding.add(src)
    return tuple(forward[k] and EDGES[k][0] in feeding for k in range(len(EDGES)))


def arch_to_string(arch: Architecture) -> str:
    """The benchmark's arch string, e.g. ``|nor_conv_3x3~0|+|…~0|…~1|+|…~0|…~1|…~2|``."""
    ops = [str(arch[name]) for name in EDGE_NAMES]
    nodes = []
    for to in (1, 2, 3):
        nodes.append("|" + "|".join(
            f"{ops[k]}~{src}" for k, (dst, src) in enumerate(EDGES) if dst == to
        ) + "|")
    return "+".join(nodes)


def arch_from_string(text: str) -> Architecture:
    """Parse an arch string; :class:`InvalidArchitecture` says what is wrong."""
    nodes = text.strip().split("+") if isinstance(text, str) else []
    if len(nodes) != 3:
        raise InvalidArchitecture(
            f"nb201: arch string {text!r} must have 3 nodes joined by '+', "
            "like |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
        )
    values: dict[str, str] = {}
    k = 0
    for to, node in enumerate(nodes, start=1):
        match = _NODE_RE.match(node)
        parts = match.group(1).split("|") if match else []
        if len(parts) != to:
            raise InvalidArchitecture(f"nb201: node {to} in {text!r} needs {to} ops, got {node!r}")
        for src, part in enumerate(parts):
            op, _, index = part.partition("~")
            if op not in OP_NAMES:
                raise InvalidArchitecture(
                    f"nb201: unknown op {op!r} in {text!r}; allowed: {', '.join(OP_NAMES)}"
                )
            if index != str(src):
                raise InvalidArchitecture(f"nb201: op {part!r} of node {to} must read from ~{src}")
            values[EDGE_NAMES[k]] = op
            k += 1
    return Architecture(values)


def path_encoding(arch: Architecture) -> np.ndarray:
    """Counts of input->output op sequences over non-``none`` ops (4 + 16 + 16 + 64 = 100)."""
    ops = [str(arch[name]) for name in EDGE_NAMES]
    blocks = []
    for path in _PATHS:
        block = np.zeros(len(_SIGNAL_OPS) ** len(path), dtype=np.float32)
        seq = [ops[k] for k in path]
        if "none" not in seq:
            position = 0
            for op in seq:
                position = position * len(_SIGNAL_OPS) + _SIGNAL_OPS.index(op)
            block[position] = 1.0
        blocks.append(block)
    return np.concatenate(blocks)


def param_count(arch: Architecture, num_classes: int, channels: int = 16) -> int:
    """Parameters of :meth:`NB201Space.build`'s network, in closed form (no torch)."""
    widths = (channels, 2 * channels, 4 * channels)
    total = 3 * 9 * channels + 2 * channels  # stem conv + BN
    for c_in, c_out in zip(widths, widths[1:]):  # reduction blocks
        total += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out
    total += 2 * widths[-1] + widths[-1] * num_classes + num_classes  # last BN + classifier
    n3, n1 = _conv_counts(arch)
    cells = 5
    for c in widths:
        total += cells * (n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c))
    return total


def flop_count(arch: Architecture, num_classes: int, input_size: int, channels: int = 16) -> int:
    """FLOPs (2 x multiply-adds, as :func:`nas.metrics.count_flops`) of one image, closed form.

    Convolutions and the classifier count; pooling, BN and additions do not
    (torch's counter skips them too). Half of this is the benchmark's "FLOPs".
    """
    widths = (channels, 2 * channels, 4 * channels)
    sides = (input_size, input_size // 2, input_size // 4)
    macs = 3 * 9 * channels * sides[0] ** 2
    for (c_in, c_out), side in zip(zip(widths, widths[1:]), sides[1:]):
        macs += (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * side ** 2
    macs += widths[-1] * num_classes
    n3, n1 = _conv_counts(arch)
    for c, side in zip(widths, sides):
        macs += 5 * (n3 * 9 + n1) * c * c * side ** 2
    return 2 * macs


def _conv_counts(arch: Architecture) -> tuple[int, int]:
    ops = [str(arch[name]) for name in EDGE_NAMES]
    return ops.count("nor_conv_3x3"), ops.count("nor_conv_1x1")
