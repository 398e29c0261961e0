"""Supernet checkpoints: corrupt or mismatched ones are refused with one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas.errors import CheckpointError
from nas.supernet.from_study import load_supernet
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from nas.tasks import create_task
from search_spaces import create_space
from supernets import create_supernet
from supernets.checkpoint import save_checkpoint

SMALL = {"hidden_dim": [16], "heads": [1, 2], "mp_layers": [1, 2], "propagation_steps": [0]}


@pytest.fixture(scope="module")
def graph_task(data_dir: Path):
    task = create_task("synthetic-graph", data_dir=data_dir, num_nodes=200, num_features=8)
    task.prepare("cpu")
    return task


@pytest.fixture(scope="module")
def checkpoint(graph_task, tmp_path_factory) -> Path:
    space = create_space("gnn", SMALL)
    supernet = create_supernet(space, graph_task.spec, seed=0)
    trainer = SupernetTrainer(supernet, graph_task, SupernetSettings(epochs=1, n_random=0), seed=0)
    trainer.run_epoch()
    path = tmp_path_factory.mktemp("ckpt") / "gnn.pt"
    save_checkpoint(path, trainer.state_dict(), supernet, graph_task.name)
    return path


def test_a_checkpoint_loads_back_into_an_equal_supernet(checkpoint: Path, graph_task) -> None:
    space = create_space("gnn", SMALL)
    loaded = load_supernet(checkpoint, space, graph_task)
    saved = torch.load(checkpoint, weights_only=True)["supernet"]
    assert saved.keys() == loaded.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in loaded.state_dict().items())


def test_a_truncated_checkpoint_is_refused(checkpoint: Path, graph_task, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or unreadable"):
        load_supernet(broken, create_space("gnn", SMALL), graph_task)


def test_a_file_that_is_no_checkpoint_is_refused(graph_task, tmp_path: Path) -> None:
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a supernet checkpoint"):
        load_supernet(other, create_space("gnn", SMALL), graph_task)
    with pytest.raises(CheckpointError, match="not found"):
        load_supernet(tmp_path / "missing.pt", create_space("gnn", SMALL), graph_task)


def test_a_checkpoint_of_other_dims_names_the_tensor(checkpoint: Path, graph_task) -> None:
    wider = create_space("gnn", dict(SMALL, hidden_dim=[16, 32]))
    message = r"does not fit this supernet: 'layers\..+' is .+ there and .+ here"
    with pytest.raises(CheckpointError, match=message):
        load_supernet(checkpoint, wider, graph_task)


def test_a_checkpoint_of_another_space_or_task_is_refused(checkpoint: Path, graph_task,
                                                          data_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="is for space 'gnn', not 'nb201'"):
        load_supernet(checkpoint, create_space("nb201"), graph_task)
    other = create_task("synthetic-graph", data_dir=data_dir, num_nodes=200, num_features=8)
    other.prepare("cpu")
    other.name = "cora"  # same data, another task name: a checkpoint is bound to its task
    with pytest.raises(CheckpointError, match="trained on task 'synthetic-graph', not 'cora'"):
        load_supernet(checkpoint, create_space("gnn", SMALL), other)


def test_a_checkpoint_of_another_image_size_is_refused(data_dir: Path, tmp_path: Path) -> None:
    # NB201 pools globally, so 8x8 weights have a 16x16 network's shapes: only the size tells.
    space = create_space("nb201")
    small = create_task("cifar10-subset", data_dir=data_dir, val_size=100, image_size=8)
    supernet = create_supernet(space, small.prepare("cpu"), seed=0)
    path = save_checkpoint(tmp_path / "nb201.pt", {"supernet": supernet.state_dict()}, supernet,
                           small.name)
    assert load_supernet(path, space, small).spec.input_size == 8
    larger = create_task("cifar10-subset", data_dir=data_dir, val_size=100, image_size=16)
    larger.prepare("cpu")
    with pytest.raises(CheckpointError, match="trained on inputs of size 8, this task's are 16"):
        load_supernet(path, space, larger)
