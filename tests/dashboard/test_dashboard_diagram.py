"""The layer drawing, for an architecture of every registered search space (from choices alone)."""

from __future__ import annotations

import optuna
import pytest

from dashboard._diagram import cell_edges, cell_figure, diagram_figure, layer_blocks
from search_spaces import SPACES, create_space


def _names() -> list[str]:
    return sorted(SPACES.names() if hasattr(SPACES, "names") else SPACES)


def _sampled(space_name: str, seed: int) -> dict:
    space = create_space(space_name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return dict(space.sample(study.ask()))


@pytest.mark.parametrize("space_name", _names())
def test_every_space_draws_input_to_output_in_readable_boxes(space_name):
    for seed in range(3):
        arch = _sampled(space_name, seed)
        blocks = layer_blocks(arch, space_name)
        assert blocks[0].title == "input"
        assert blocks[-1].title in ("head", "output")
        # Grouped into layers, not one box per choice, for every space we ship.
        assert 3 <= len(blocks) <= 16, [b.title for b in blocks]
        figure = diagram_figure(blocks)
        assert sum(shape.type == "rect" for shape in figure.layout.shapes) == len(blocks)
        arrows = [a for a in figure.layout.annotations if a.showarrow]
        assert len(arrows) == len(blocks) - 1


def test_nb201_cell_is_drawn_as_its_graph():
    arch = _sampled("nb201", 0)
    edges = cell_edges(arch)
    # NAS-Bench-201's cell: 4 nodes, an edge from every node to every later one.
    assert sorted(edges) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert edges[(0, 1)] == arch["edge_0"] and edges[(2, 3)] == arch["edge_5"]
    figure = cell_figure(edges)
    arrows = [a for a in figure.layout.annotations if a.showarrow]
    assert sorted((a.ax, a.x) for a in arrows) == sorted(
        (figure.data[0].x[s], figure.data[0].x[t]) for s, t in edges)
    # A "none" edge (no connection) is dashed: a dotted line drawn over its arrow.
    dashed = [s for s in figure.layout.shapes if s.line.dash == "dot"]
    assert len(dashed) == sum(op == "none" for op in edges.values())
    # No two edge labels on top of each other.
    labels = [(a.x, a.y) for a in figure.layout.annotations if not a.showarrow]
    assert len(set(labels)) == len(labels)


def test_mobilenet_stages_show_only_their_active_blocks():
    arch = _sampled("mobilenet", 1)
    stages = [b for b in layer_blocks(arch, "mobilenet") if b.title.startswith("stage")]
    assert len(stages) == 5
    for number, block in enumerate(stages, start=1):
        depth = arch[f"s{number}_depth"]
        assert block.title == f"stage {number} · {depth} blocks"
        assert len(block.details) == depth
        kernel = arch[f"s{number}_b1_kernel"]
        assert block.details[0].startswith(f"b1: {kernel}×{kernel}, expand ")


def test_transformer_blocks_show_their_own_heads():
    arch = _sampled("vit", 2)
    blocks = [b for b in layer_blocks(arch, "vit") if b.title.startswith("block")]
    assert len(blocks) == arch["depth"]
    for i, block in enumerate(blocks, start=1):
        assert f"heads={arch[f'layer{i}_heads']}" in block.details


def test_long_networks_wrap_onto_more_rows():
    blocks = layer_blocks(_sampled("gnn", 0), "gnn")
    one_row, wrapped = diagram_figure(blocks, per_row=len(blocks)), diagram_figure(blocks, per_row=3)
    assert wrapped.layout.height > one_row.layout.height
    assert any(shape.type == "path" for shape in wrapped.layout.shapes)  # the elbow between rows
