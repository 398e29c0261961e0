"""NAS-Bench-201 space: the exact benchmark network, arch strings and the benchmark index."""

import numpy as np
import pytest
import torch

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from nas.metrics import count_flops, count_params
from nas.tasks.nb201 import load_table
from search_spaces import Batch, TaskSpec, create_space
from search_spaces.nb201 import (
    EDGE_NAMES,
    OP_NAMES,
    arch_from_string,
    arch_to_string,
    flop_count,
    param_count,
)

BEST_CIFAR100 = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
INDEX_0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)
CIFAR10 = TaskSpec("image", 3, 10, 32)


@pytest.fixture(scope="module")
def space():
    torch.set_num_threads(1)
    return create_space("nb201")


def test_space_has_six_edges_of_five_ops(space):
    assert list(space.choices()) == list(EDGE_NAMES)
    assert space.size() == 5**6 == 15_625
    assert set(space.choices()["edge_0"].values) == set(OP_NAMES)


@pytest.mark.parametrize(
    ("op", "classes", "published_m"),
    [
        ("nor_conv_3x3", 10, 1.531546),  # NB201's largest CIFAR-10 network
        ("nor_conv_3x3", 100, 1.537396),
        ("nor_conv_3x3", 120, 1.538696),
        ("none", 10, 0.073306),
        ("skip_connect", 10, 0.073306),
        ("avg_pool_3x3", 10, 0.073306),
        ("nor_conv_1x1", 10, 0.241306),
    ],
)
def test_parameter_counts_match_the_benchmark(space, op, classes, published_m):
    arch = Architecture(dict.fromkeys(EDGE_NAMES, op))
    model = space.build(arch, TaskSpec("image", 3, classes, 32))
    assert count_params(model) == round(published_m * 1e6)
    assert param_count(arch, classes) == count_params(model)


def test_closed_form_costs_match_the_built_model(space):
    rng = np.random.default_rng(0)
    for _ in range(3):
        arch = Architecture({e: str(rng.choice(OP_NAMES)) for e in EDGE_NAMES})
        for classes, side in ((10, 32), (120, 16)):
            model = space.build(arch, TaskSpec("image", 3, classes, side))
            batch = Batch((torch.randn(1, 3, side, side),), torch.zeros(1, dtype=torch.long))
            assert count_params(model) == param_count(arch, classes)
            assert count_flops(model, batch) == flop_count(arch, classes, side)
    # NB201 reports 220.11 MFLOPs (multiply-adds) for its largest CIFAR-10 network
    assert flop_count(space.largest(), 10, 32) / 2 / 1e6 == pytest.approx(220.11, abs=0.01)


def test_forward_gives_logits_and_none_cell_blocks_the_cell_path(space):
    batch = torch.randn(4, 3, 32, 32)
    model = space.build(space.largest(), CIFAR10)
    assert model(batch).shape == (4, 10)
    # every edge 'none': each cell outputs zeros, so the logits ignore the stem's input
    # except through the reduction blocks' shortcuts, which see zeros too -> constant logits
    dead = space.build(space.smallest(), CIFAR10).eval()
    out = dead(batch)
    assert torch.allclose(out, out[:1].expand_as(out))


def test_arch_string_round_trip_over_random_archs(space):
    rng = np.random.default_rng(1)
    for _ in range(50):
        arch = Architecture({e: str(rng.choice(OP_NAMES)) for e in EDGE_NAMES})
        assert arch_from_string(arch_to_string(arch)) == arch
    parsed = arch_from_string(BEST_CIFAR100)
    assert parsed["edge_3"] == "skip_connect" and parsed["edge_0"] == "nor_conv_3x3"
    assert arch_to_string(parsed) == BEST_CIFAR100


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "|nor_conv_3x3~0|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        BEST_CIFAR100.replace("skip_connect", "sep_conv_3x3"),
        BEST_CIFAR100.replace("nor_conv_3x3~1|+", "nor_conv_3x3~0|+"),
    ],
)
def test_malformed_strings_are_refused(bad):
    with pytest.raises(InvalidArchitecture):
        arch_from_string(bad)


def test_index_comes_from_the_benchmark_table(data_dir):
    table = load_table(data_dir)
    assert table.row(arch_to_string(arch_from_string(INDEX_0))) == 0
    assert table.row(arch_to_string(arch_from_string(BEST_CIFAR100))) == 9930
    # itertools order would put the all-'none' cell first; the benchmark does not
    none = Architecture(dict.fromkeys(EDGE_NAMES, "none"))
    assert table.row(arch_to_string(none)) != 0


def test_encoding_separates_archs_and_ignores_dead_paths_in_its_path_part(space):
    a = arch_from_string(BEST_CIFAR100)
    vec = space.encode(a)
    assert vec.shape == (130,) and vec[:30].sum() == 6
    # edge_0 'none' cuts paths 0->1->3 and 0->1->2->3; edge_2's op then no longer matters to paths
    cut = Architecture({**dict(a), "edge_0": "none", "edge_2": "avg_pool_3x3"})
    cut2 = Architecture({**dict(a), "edge_0": "none", "edge_2": "nor_conv_1x1"})
    assert np.array_equal(space.encode(cut)[30:], space.encode(cut2)[30:])
    assert not np.array_equal(space.encode(cut), space.encode(cut2))
    assert space.encode(a)[30:].sum() == 4  # all four input->output paths are alive


def test_canonical_form_drops_dead_edges_and_matches_the_benchmark(space, data_dir):
    import csv

    a = arch_from_string(BEST_CIFAR100)
    assert space.canonical(a) == a  # every edge is on a live path
    # edge_0 'none': node 1 gets no input, so edge_2 (1->2) and edge_4 (1->3) carry nothing
    cut = space.canonical(Architecture({**dict(a), "edge_0": "none"}))
    assert (cut["edge_2"], cut["edge_4"], cut["edge_1"]) == ("none", "none", "nor_conv_3x3")
    # The benchmark's own canonical_arch column, for every architecture of the table.
    with open(data_dir / "nb201" / "nb201_accuracy.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    forms = [arch_to_string(space.canonical(arch_from_string(r["arch"]))) for r in rows]
    assert forms == [r["canonical_arch"] for r in rows]
    assert len(set(forms)) == 9445
