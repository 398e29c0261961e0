"""The ``fair`` sampling rule: one subnet per weight set each step, within the narrowed space."""

from __future__ import annotations

import pytest

from nas.errors import ConfigError
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from nas.tasks import create_task
from search_spaces import TaskSpec, create_space
from supernets import create_supernet


@pytest.fixture(scope="module")
def graph_task(data_dir):
    task = create_task("synthetic-graph", data_dir=data_dir, num_nodes=200, num_features=8)
    task.prepare("cpu")
    return task


def test_fair_draws_one_subnet_per_conv_type_and_one_mlp(graph_task) -> None:
    space = create_space("gnn", {"conv": ["gcn", "gat", "sage"], "hidden_dim": [16, 32],
                                 "heads": [1, 2, 4], "mp_layers": [0, 1, 2]})
    supernet = create_supernet(space, graph_task.spec, seed=0)
    trainer = SupernetTrainer(supernet, graph_task, SupernetSettings(epochs=1, sampling="fair"))
    for _ in range(20):
        archs = trainer.draw()
        assert len(archs) == 4
        deep = sorted(a["conv"] for a in archs if a["mp_layers"] > 0)
        assert deep == ["gat", "gcn", "sage"]
        assert sum(a["mp_layers"] == 0 for a in archs) == 1
        for arch in archs:
            assert space.validate(arch) == arch
    assert trainer.run_epoch() > 0


def test_fair_without_an_mlp_in_the_space_draws_only_conv_types(graph_task) -> None:
    space = create_space("gnn", {"conv": ["gcn", "tag"], "mp_layers": [1, 2], "hidden_dim": [16]})
    supernet = create_supernet(space, graph_task.spec, seed=0)
    trainer = SupernetTrainer(supernet, graph_task, SupernetSettings(epochs=1, sampling="fair"))
    assert sorted(a["conv"] for a in trainer.draw()) == ["gcn", "tag"]


def test_fair_is_refused_for_a_supernet_without_weight_sets() -> None:
    space = create_space("charlm", {"model_dim": [64], "num_layers": [2]})
    supernet = create_supernet(space, TaskSpec("sequence", 17, 17, 12), seed=0)
    with pytest.raises(ConfigError, match="supernet.sampling: 'fair'"):
        SupernetTrainer(supernet, None, SupernetSettings(epochs=1, sampling="fair"))
