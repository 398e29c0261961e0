"""Zero-cost graph features: GRAF's counts on NAS-Bench-201 cells, and the choice fallback."""

from __future__ import annotations

import numpy as np

from nas.features import compact_columns, feature_matrix, feature_names, graph_features
from search_spaces import create_space
from search_spaces.nb201 import arch_from_string

BEST_C100 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
NO_PATH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"


def features_of(space, text):
    return dict(zip(feature_names(space), graph_features(space, arch_from_string(text))))


def test_nb201_cell_counts_paths_and_degrees():
    space = create_space("nb201")
    f = features_of(space, BEST_C100)
    assert len(f) == len(feature_names(space))
    assert f["count:nor_conv_3x3"] == 5 and f["count:skip_connect"] == 1
    # four input->output paths: the skip, 0-1-3, 0-2-3 and 0-1-2-3 (7 convs along them)
    assert f["paths"] == 4 and f["paths_through:skip_connect"] == 1
    assert f["on_paths:nor_conv_3x3"] == 7
    assert f["shortest:nor_conv_3x3"] == 2 and f["longest:nor_conv_3x3"] == 3
    assert f["path_min:nor_conv_3x3"] == 0 and f["path_max:nor_conv_3x3"] == 3
    assert f["input_out_degree:skip_connect+nor_conv_3x3"] == 3


def test_a_cell_without_a_path_has_no_live_edge():
    f = features_of(create_space("nb201"), NO_PATH)
    assert f["paths"] == 0 and f["live_edges"] == 0 and f["live_count:nor_conv_3x3"] == 0
    assert f["count:nor_conv_3x3"] == 3  # the edges exist, they only carry nothing out


def test_equivalent_cells_share_their_compact_features():
    # An op on a dead edge changes nothing the network computes, nor the compact features.
    space = create_space("nb201")
    names = feature_names(space)
    dead = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    canonical = space.canonical(arch_from_string(dead))
    columns = compact_columns(names)
    rows = feature_matrix(space, [arch_from_string(dead), canonical])
    assert np.array_equal(rows[0, columns], rows[1, columns])
    assert not np.array_equal(rows[0], rows[1])  # the full GRAF set still sees the dead edge


def test_spaces_without_a_graph_get_choice_counts():
    space = create_space("mobilenet")
    arch = space.default()
    f = graph_features(space, arch)
    names = feature_names(space)
    assert f.shape == (len(names),) and np.all(np.isfinite(f))
    counts = [n for n in names if n.startswith("count:")]
    assert counts, names  # per-layer choices sharing their values are counted
    memo: dict = {}
    assert np.array_equal(feature_matrix(space, [arch, arch], memo)[1], f) and len(memo) == 1
