"""GRAF-style graph features (Kadlecová et al. 2024) and their fallback on the choices.

A space that describes its cell as a labelled DAG (a method
``graph(arch) -> {"nodes": n, "ops": (...), "edges": ((src, dst, op), ...)}``,
node 0 the input and node ``n - 1`` the output, ``ops`` the vocabulary of
ops that carry signal, edges of the zero op left out) gets GRAF's features:

- how many edges carry each op, all of them and only the live ones (on an
  input->output path);
- for each set of ops (every non-empty subset of the vocabulary, up to six
  ops; each op alone and all together beyond), in the cell that keeps only
  edges with those ops: the number of input->output paths, the shortest and
  the longest path, the input's out-degree, the output's in-degree and the
  mean in-degree of the inner nodes;
- per op, how many input->output paths pass through it, how often it occurs
  along them, and the fewest and most times one path holds it.

Every other space gets :func:`choice_features`: its ``encode`` vector plus,
for choices that share a set of values (one per layer, say), how many of
them take each value and the sum of numeric ones (total depth, total width).

Both are pure functions of the architecture; :func:`feature_matrix` memoises
them per space and architecture key.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.architecture import Architecture

__all__ = [
    "COMPACT",
    "CellGraph",
    "compact_columns",
    "cell_graph_features",
    "choice_features",
    "feature_matrix",
    "feature_names",
    "graph_features",
]

#: beyond this many ops, subsets are each op alone and all of them (2^k grows fast)
_MAX_SUBSET_OPS = 6
#: the path-level graph features a predictor learns fastest from (measured on NAS-Bench-201
#: with 25 and 100 labels: fewer, less redundant columns than GRAF's op-subset statistics)
COMPACT = ("live_count", "on_paths", "paths_through", "path_min", "path_max", "paths", "live_edges")
_SUBSET_STATS = ("paths", "shortest", "longest", "input_out_degree", "output_in_degree",
                 "inner_in_degree")


@dataclass(frozen=True)
class CellGraph:
    """A cell as a DAG: node 0 the input, ``nodes - 1`` the output, edges ``(src, dst, op)``."""

    nodes: int
    ops: tuple[str, ...]
    edges: tuple[tuple[int, int, str], ...]

    @classmethod
    def from_mapping(cls, graph: Mapping[str, Any] | CellGraph) -> CellGraph:
        if isinstance(graph, CellGraph):
            return graph
        return cls(int(graph["nodes"]), tuple(graph["ops"]),
                   tuple((int(s), int(d), str(o)) for s, d, o in graph["edges"]))


def feature_names(space: Any) -> list[str]:
    """Names of the columns :func:`graph_features` returns for ``space``."""
    return _names(space)


def compact_columns(names: Sequence[str]) -> list[int]:
    """Indexes of the :data:`COMPACT` features among ``names``; all of them when none is."""
    picked = [i for i, n in enumerate(names) if n.split(":")[0] in COMPACT]
    return picked or list(range(len(names)))


def graph_features(space: Any, arch: Mapping[str, Any]) -> np.ndarray:
    """The zero-cost feature vector of ``arch``: GRAF's where ``space.graph`` exists."""
    describe = getattr(space, "graph", None)
    if callable(describe):
        return cell_graph_features(CellGraph.from_mapping(describe(Architecture(dict(arch)))))
    return choice_features(space, arch)


def feature_matrix(space: Any, archs: Iterable[Mapping[str, Any]],
                   memo: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One row of :func:`graph_features` per architecture, reusing ``memo`` (key -> row)."""
    rows = []
    for arch in archs:
        arch = arch if isinstance(arch, Architecture) else Architecture(dict(arch))
        key = arch.key
        row = memo.get(key) if memo is not None else None
        if row is None:
            row = graph_features(space, arch)
            if memo is not None:
                memo[key] = row
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(feature_names(space))))


def cell_graph_features(graph: CellGraph) -> np.ndarray:
    """GRAF's features of one cell (see the module docstring for the list)."""
    ops = graph.ops
    live = _live_edges(graph)
    values: list[float] = []
    values += [float(sum(e[2] == op for e in graph.edges)) for op in ops]
    values += [float(sum(e[2] == op for e, alive in zip(graph.edges, live) if alive)) for op in ops]
    for subset in _subsets(ops):
        values += _subset_stats(graph, set(subset))
    paths = _paths(graph, set(ops))
    for op in ops:
        per_path = [sum(graph.edges[k][2] == op for k in p) for p in paths] or [0]
        values.append(float(sum(c > 0 for c in per_path)))
        values.append(float(sum(per_path)))
        values += [float(min(per_path)), float(max(per_path))]
    values += [float(len(paths)), float(sum(live))]
    return np.asarray(values, dtype=np.float64)


def choice_features(space: Any, arch: Mapping[str, Any]) -> np.ndarray:
    """``space.encode(arch)`` plus value counts and sums over choices sharing their values."""
    from search_spaces._base import Categorical

    arch = arch if isinstance(arch, Architecture) else Architecture(dict(arch))
    values = list(np.asarray(space.encode(arch), dtype=np.float64))
    for members in _choice_groups(space).values():
        choice = space.choices()[members[0]]
        if isinstance(choice, Categorical):
            values += [float(sum(arch[m] == v for m in members)) for v in choice.values]
        else:
            values.append(float(sum(float(arch[m]) for m in members)))
    return np.asarray(values, dtype=np.float64)


# -- helpers -------------------------------------------------------------

def _names(space: Any) -> list[str]:
    describe = getattr(space, "graph", None)
    if callable(describe):
        graph = CellGraph.from_mapping(describe(space.default()))
        ops = graph.ops
        names = [f"count:{op}" for op in ops] + [f"live_count:{op}" for op in ops]
        for subset in _subsets(ops):
            names += [f"{stat}:{'+'.join(subset)}" for stat in _SUBSET_STATS]
        for op in ops:
            names += [f"paths_through:{op}", f"on_paths:{op}", f"path_min:{op}", f"path_max:{op}"]
        return names + ["paths", "live_edges"]
    from search_spaces._base import Categorical

    names = [f"encode:{i}" for i in range(len(space.encode(space.default())))]
    for group, members in _choice_groups(space).items():
        choice = space.choices()[members[0]]
        if isinstance(choice, Categorical):
            names += [f"count:{group}={v}" for v in choice.values]
        else:
            names.append(f"sum:{group}")
    return names


def _choice_groups(space: Any) -> dict[str, list[str]]:
    """Choices with the same values and the same name once digits are dropped, 2+ members."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, choice in space.choices().items():
        stem = re.sub(r"\d+", "#", name)
        groups.setdefault((stem, repr(getattr(choice, "values", None) or
                                      (getattr(choice, "low", None), getattr(choice, "high", None)))),
                          []).append(name)
    return {stem: members for (stem, _), members in groups.items() if len(members) > 1}


def _subsets(ops: Sequence[str]) -> list[tuple[str, ...]]:
    if len(ops) > _MAX_SUBSET_OPS:
        return [(op,) for op in ops] + [tuple(ops)]
    return [s for r in range(1, len(ops) + 1) for s in itertools.combinations(ops, r)]


def _paths(graph: CellGraph, allowed: set[str]) -> list[tuple[int, ...]]:
    """Input->output paths over edges whose op is ``allowed``, as tuples of edge indexes."""
    outgoing: dict[int, list[int]] = {}
    for k, (src, _, op) in enumerate(graph.edges):
        if op in allowed:
            outgoing.setdefault(src, []).append(k)
    out: list[tuple[int, ...]] = []
    stack: list[tuple[int, tuple[int, ...]]] = [(0, ())]
    while stack:
        node, path = stack.pop()
        if node == graph.nodes - 1:
            out.append(path)
            continue
        for k in outgoing.get(node, ()):
            stack.append((graph.edges[k][1], (*path, k)))
    return sorted(out)


def _live_edges(graph: CellGraph) -> list[bool]:
    on_path = {k for p in _paths(graph, set(graph.ops)) for k in p}
    return [k in on_path for k in range(len(graph.edges))]


def _subset_stats(graph: CellGraph, allowed: set[str]) -> list[float]:
    paths = _paths(graph, allowed)
    lengths = [len(p) for p in paths]
    kept = [e for e in graph.edges if e[2] in allowed]
    inner = range(1, graph.nodes - 1)
    inner_in = (sum(1 for e in kept if e[1] in inner) / len(inner)) if len(inner) else 0.0
    return [
        float(len(paths)),
        float(min(lengths)) if lengths else 0.0,
        float(max(lengths)) if lengths else 0.0,
        float(sum(1 for e in kept if e[0] == 0)),
        float(sum(1 for e in kept if e[1] == graph.nodes - 1)),
        float(inner_in),
    ]
