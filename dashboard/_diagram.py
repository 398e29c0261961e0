"""A drawing of an architecture's layers from its choices alone (no torch, no model build).

The dashboard must not import torch, so it cannot build the model; instead it
reads the choices the spaces share by convention: GraphGym-style stages for
the ``gnn`` space (You et al. 2020: pre-process, message passing,
post-process), cell edges for NAS-Bench-201-style cells (Dong & Yang 2020),
a depth for stacked blocks (transformers, elastic CNNs). Anything else is
shown as one box per choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

__all__ = ["Block", "layer_blocks", "diagram_figure", "cell_edges", "cell_figure"]

_EDGE = re.compile(r"^(?:edge|e)_?(\d+)_?(?:to_|-|_)?(\d+)$")
# Elastic CNN stages (OFA-style, Cai et al. 2020): s<stage>_depth, s<stage>_b<block>_<choice>.
_STAGE_DEPTH = re.compile(r"^s(\d+)_depth$")
_STAGE_BLOCK = re.compile(r"^s(\d+)_b(\d+)_(\w+)$")
# Per-layer choices of stacked blocks: layer3_heads, block_3_ffn_dim (1-based).
_LAYER_PREFIX = re.compile(r"^(?:layer|block)_?(\d+)_(\w+)$")
_DEPTH_KEYS = ("depth", "num_layers", "n_layers", "layers", "num_blocks", "blocks")
_MAX_REPEATS = 12
# NAS-Bench-201's edge order (search_spaces/nb201.py): edge_k = (target node, source node).
_OP_NAMES = {"nor_conv_3x3": "conv 3×3", "nor_conv_1x1": "conv 1×1", "avg_pool_3x3": "avg pool 3×3",
             "skip_connect": "skip", "none": "none"}
_NB201_EDGES = {f"edge_{k}": edge for k, edge in enumerate(((1, 0), (2, 0), (2, 1), (3, 0),
                                                             (3, 1), (3, 2)))}


@dataclass(frozen=True)
class Block:
    """One box of the drawing: a title and a few detail lines."""

    title: str
    details: tuple[str, ...] = ()


def layer_blocks(arch: Mapping[str, Any], space: str | None = None) -> list[Block]:
    """The boxes to draw for ``arch``, input to output."""
    if "mp_layers" in arch and ("conv" in arch or int(arch["mp_layers"]) == 0):
        return _gnn_blocks(arch)
    if set(_NB201_EDGES) <= set(arch):
        return _nb201_blocks(arch)
    if any(_STAGE_DEPTH.match(str(k)) for k in arch):
        return _staged_blocks(arch)
    edges = {k: v for k, v in arch.items() if _EDGE.match(str(k))}
    if edges:
        return _cell_blocks(edges, {k: v for k, v in arch.items() if k not in edges})
    depth_key = next((k for k in _DEPTH_KEYS if isinstance(arch.get(k), int)), None)
    if depth_key is not None:
        return _stacked_blocks(arch, depth_key)
    return [Block("input"), *(Block(str(k), (_fmt(v),)) for k, v in arch.items()), Block("output")]


def diagram_figure(blocks: list[Block], per_row: int = 8) -> go.Figure:
    """Boxes joined by arrows, left to right, wrapping every ``per_row`` boxes."""
    figure = go.Figure()
    width, height, gap_x, gap_y = 1.6, 1.0, 0.5, 0.6
    centres = []
    for i, block in enumerate(blocks):
        row, col = divmod(i, per_row)
        x0, y0 = col * (width + gap_x), -row * (height + gap_y)
        centres.append((x0 + width / 2, y0 + height / 2))
        colour = "#fde0dd" if block.title in ("input", "output", "head") else "#deebf7"
        figure.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + width, y1=y0 + height,
                         line={"color": "#4a6fa5"}, fillcolor=colour, layer="below")
        text = f"<b>{block.title}</b>" + "".join(f"<br>{d}" for d in block.details[:4])
        figure.add_annotation(x=x0 + width / 2, y=y0 + height / 2, text=text, showarrow=False,
                              font={"size": 11})
    for (xa, ya), (xb, yb) in zip(centres, centres[1:]):
        if abs(ya - yb) < 1e-9:
            _arrow(figure, (xa + width / 2, ya), (xb - width / 2, yb))
            continue
        # Wrapping to the next row: down, back left along the gap, down into the box.
        middle = ya - height / 2 - gap_y / 2
        figure.add_shape(type="path", path=f"M {xa},{ya - height / 2} V {middle} H {xb}",
                         line={"color": "#4a6fa5", "width": 1.2})
        _arrow(figure, (xb, middle), (xb, yb + height / 2))
    rows = (len(blocks) - 1) // per_row + 1
    figure.update_xaxes(visible=False, range=[-0.1, min(len(blocks), per_row) * (width + gap_x)])
    figure.update_yaxes(visible=False, scaleanchor="x", constrain="domain",
                        range=[-(rows - 1) * (height + gap_y) - 0.1, height + 0.1])
    figure.update_layout(height=40 + 110 * rows, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                         showlegend=False, plot_bgcolor="white", dragmode=False)
    return figure


def _arrow(figure: go.Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    figure.add_annotation(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x", yref="y",
                          axref="x", ayref="y", showarrow=True, arrowhead=2, arrowsize=1,
                          arrowwidth=1.2, arrowcolor="#4a6fa5", text="")


def _gnn_blocks(arch: Mapping[str, Any]) -> list[Block]:
    hidden = arch.get("hidden_dim", "?")
    activation = arch.get("activation", "")
    norm = "batch norm" if arch.get("batch_norm") else ""
    dropout = f"dropout {arch['dropout']}" if arch.get("dropout") else ""
    blocks = [Block("input", ("node features",))]
    for i in range(int(arch.get("pre_layers", 0))):
        blocks.append(Block(f"pre MLP {i + 1}", (f"linear → {hidden}", activation)))
    # A choice the architecture does not use may be absent (the panel leaves it out).
    conv = str(arch.get("conv", ""))
    heads = f" × {arch['heads']} heads" if conv.lower().startswith("gat") and arch.get("heads") else ""
    aggregation = f"aggr {arch['aggregation']}" if arch.get("aggregation") else ""
    for i in range(int(arch["mp_layers"])):
        details = (f"{conv}{heads} → {hidden}", aggregation,
                   " · ".join(p for p in (activation, norm, dropout) if p))
        blocks.append(Block(f"message passing {i + 1}", tuple(d for d in details if d)))
    if arch.get("skip") and arch["skip"] != "none":
        blocks.append(Block("skip", (f"{arch['skip']} of layer outputs",)))
    if arch.get("propagation_steps"):
        blocks.append(Block("propagation", (f"{arch['propagation_steps']} steps",)))
    for i in range(int(arch.get("post_layers", 0))):
        blocks.append(Block(f"post MLP {i + 1}", (f"linear → {hidden}", activation)))
    blocks.append(Block("head", ("linear → classes",)))
    return blocks


def _nb201_blocks(arch: Mapping[str, Any]) -> list[Block]:
    # The benchmark network: stem, 3 stages of 5 cells (16/32/64 channels) joined by
    # residual reductions, then global pooling and a linear head; the cell is searched.
    # The searched cell itself is drawn as its graph (cell_figure).
    used = sum(arch[name] != "none" for name in _NB201_EDGES)
    return [Block("input", ("image",)), Block("stem", ("3×3 conv → 16", "batch norm")),
            Block("searched cell × 15", ("3 stages of 5", "16/32/64 channels",
                                         f"{used} of 6 edges used")),
            Block("2 reductions", ("residual blocks", "between stages")),
            Block("head", ("pool → linear",))]


def cell_edges(arch: Mapping[str, Any]) -> dict[tuple[int, int], str] | None:
    """``{(source, target): op}`` of a cell-based architecture, or ``None`` for other spaces."""
    if set(_NB201_EDGES) <= set(arch):
        return {(src, dst): str(arch[name]) for name, (dst, src) in _NB201_EDGES.items()}
    edges = {}
    for key, op in arch.items():
        match = _EDGE.match(str(key))
        if match:
            edges[int(match.group(1)), int(match.group(2))] = str(op)
    return edges or None


def cell_figure(edges: Mapping[tuple[int, int], str]) -> go.Figure:
    """A cell as its graph: nodes left to right (input 0 to output), one labelled arrow per edge.

    Nodes zigzag above and below the line from input to output, so no two
    edges lie on top of each other; an edge whose op is ``none`` (NAS-Bench-201's
    zero op: no connection) is drawn dashed and grey.
    """
    nodes = sorted({n for edge in edges for n in edge})
    last = len(nodes) - 1
    where = {n: (1.3 * i, 0.0 if i in (0, last) else (1.0 if i % 2 else -1.0))
             for i, n in enumerate(nodes)}
    figure = go.Figure()
    for (source, target), op in sorted(edges.items()):
        (xa, ya), (xb, yb) = where[source], where[target]
        off = op == "none"
        colour = "#b0b0b0" if off else "#4a6fa5"
        figure.add_annotation(x=xb, y=yb, ax=xa, ay=ya, xref="x", yref="y", axref="x", ayref="y",
                              showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=1.6,
                              arrowcolor=colour, standoff=17, startstandoff=17, text="")
        if off:  # dashes: a line shape over the arrow's shaft
            figure.add_shape(type="line", x0=xa, y0=ya, x1=xb, y1=yb, layer="above",
                             line={"color": "white", "width": 2, "dash": "dot"})
        # Labels of long edges sit nearer their source, clear of the shorter edges' labels.
        t = 0.3 if target - source >= 3 else 0.5
        figure.add_annotation(x=xa + t * (xb - xa), y=ya + t * (yb - ya), showarrow=False,
                              text=_OP_NAMES.get(op, op), bgcolor="white", borderpad=2,
                              font={"size": 12, "color": "#888888" if off else "#1f3b63"})
    xs, ys = zip(*(where[n] for n in nodes))
    names = ["input" if n == nodes[0] else "output" if n == nodes[-1] else "" for n in nodes]
    figure.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=[str(n) for n in nodes], textposition="middle center",
        marker={"size": 30, "color": "#deebf7", "line": {"color": "#4a6fa5", "width": 1.5}},
        hovertext=[f"node {n} {name}".strip() for n, name in zip(nodes, names)], hoverinfo="text",
        textfont={"size": 13},
    ))
    for n, name in zip(nodes, names):
        if name:
            left = name == "input"
            figure.add_annotation(x=where[n][0] + (-0.22 if left else 0.22), y=0, text=name,
                                  showarrow=False, xanchor="right" if left else "left",
                                  font={"size": 12, "color": "#555555"})
    figure.update_xaxes(visible=False, range=[-0.9, 1.3 * last + 0.9])
    figure.update_yaxes(visible=False, range=[-1.35, 1.35])
    figure.update_layout(height=280, margin={"l": 0, "r": 0, "t": 10, "b": 0}, showlegend=False,
                         plot_bgcolor="white", dragmode=False)
    return figure


def _cell_blocks(edges: Mapping[str, Any], rest: Mapping[str, Any]) -> list[Block]:
    # A cell is a small DAG; list its edges node to node, grouped by target node.
    by_target: dict[int, list[str]] = {}
    for key, op in edges.items():
        match = _EDGE.match(str(key))
        assert match is not None
        source, target = int(match.group(1)), int(match.group(2))
        by_target.setdefault(target, []).append(f"{source}→{target}: {op}")
    blocks = [Block("input", tuple(f"{k}={_fmt(v)}" for k, v in list(rest.items())[:3]))]
    for target in sorted(by_target):
        blocks.append(Block(f"cell node {target}", tuple(sorted(by_target[target]))))
    blocks.append(Block("output"))
    return blocks


def _staged_blocks(arch: Mapping[str, Any]) -> list[Block]:
    stages = sorted(int(m.group(1)) for k in arch if (m := _STAGE_DEPTH.match(str(k))))
    shared = [f"{k}={_fmt(v)}" for k, v in arch.items()
              if not _STAGE_DEPTH.match(str(k)) and not _STAGE_BLOCK.match(str(k))]
    blocks = [Block("input", ("image",)), Block("stem", tuple(shared[:3]))]
    for stage in stages:
        depth = int(arch[f"s{stage}_depth"])
        details = []
        for block in range(1, depth + 1):
            own = {m.group(3): v for k, v in arch.items()
                   if (m := _STAGE_BLOCK.match(str(k))) and int(m.group(1)) == stage
                   and int(m.group(2)) == block}
            if {"kernel", "expand"} <= set(own):
                kernel = own.pop("kernel")
                own = {"expand": own.pop("expand"), **own}
                text = f"{kernel}×{kernel}, " + ", ".join(f"{n} {_fmt(v)}" for n, v in own.items())
            else:
                text = ", ".join(f"{n} {_fmt(v)}" for n, v in own.items())
            details.append(f"b{block}: {text}")
        blocks.append(Block(f"stage {stage} · {depth} blocks", tuple(details)))
    blocks.append(Block("head", ("pool → linear",)))
    return blocks


def _stacked_blocks(arch: Mapping[str, Any], depth_key: str) -> list[Block]:
    depth = int(arch[depth_key])
    shared = [f"{k}={_fmt(v)}" for k, v in arch.items()
              if k != depth_key and not re.search(r"\d", str(k))]
    blocks = [Block("input", tuple(shared[:3]))]
    for i in range(min(depth, _MAX_REPEATS)):
        mine = [f"{m.group(2)}={_fmt(v)}" for k, v in arch.items()
                if (m := _LAYER_PREFIX.match(str(k))) and int(m.group(1)) == i + 1]
        mine = mine or [f"{re.sub(r'_?' + str(i) + r'$', '', str(k))}={_fmt(v)}"
                        for k, v in arch.items() if re.search(rf"(?<!\d){i}$", str(k))]
        blocks.append(Block(f"block {i + 1}", tuple(mine or shared[3:6])))
    if depth > _MAX_REPEATS:
        blocks.append(Block(f"… {depth - _MAX_REPEATS} more"))
    blocks.append(Block("output"))
    return blocks


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
