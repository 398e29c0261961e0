"""Node-classification tasks: Cora/CiteSeer from the raw Planetoid files, and the synthetic graph."""

from __future__ import annotations

import shutil

import pytest
import torch

from nas.errors import ConfigError, DataError
from nas.tasks import create_task


@pytest.fixture(scope="module")
def cora(data_dir):
    task = create_task("cora", data_dir=data_dir)
    task.prepare("cpu")
    return task


def test_cora_has_the_public_planetoid_split(cora):
    spec = cora.spec
    assert (spec.input_dim, spec.num_classes) == (1433, 7)
    assert spec.extra["num_nodes"] == 2708
    g = cora._graph
    sizes = [int(m.sum()) for m in (g.train_mask, g.val_mask, g.test_mask)]
    assert sizes == [140, 500, 1000]
    assert not (g.train_mask & g.val_mask).any() and not (g.val_mask & g.test_mask).any()
    # Features are row-normalised (Kipf & Welling 2017): each paper's words sum to one.
    sums = g.x.sum(dim=1)
    assert torch.allclose(sums[sums > 0], torch.ones_like(sums[sums > 0]))


def test_training_batch_carries_the_same_features_sparsely(cora):
    batch = next(iter(cora.train_batches(1)))
    x, edge_index = batch.inputs
    assert x.is_sparse and torch.equal(x.to_dense(), cora._graph.x)
    assert edge_index.shape[0] == 2
    logits = torch.zeros(2708, 7)
    selected, targets = batch.selected(logits)
    assert selected.shape == (140, 7) and targets.shape == (140,)


def test_unknown_split_is_refused(cora):
    from search_spaces import create_space

    model = create_space("gnn").build(create_space("gnn").default(), cora.spec)
    with pytest.raises(ConfigError, match="unknown split 'dev'; splits: train, val, test"):
        cora.evaluate(model, "dev")


def test_missing_planetoid_file_is_named(tmp_path, data_dir):
    folder = tmp_path / "planetoid" / "Cora" / "raw"
    shutil.copytree(data_dir / "planetoid" / "Cora" / "raw", folder)
    (folder / "ind.cora.graph").unlink()
    with pytest.raises(DataError, match=r"task 'cora': data file not found: .*ind\.cora\.graph"):
        create_task("cora", data_dir=tmp_path).prepare("cpu")


def test_synthetic_graph_is_seeded_and_homophilous():
    def graph(seed):
        task = create_task("synthetic-graph", seed=seed, num_nodes=200, num_classes=4)
        task.prepare("cpu")
        return task._graph

    a, b, c = graph(0), graph(0), graph(1)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not torch.equal(a.y, c.y)
    src, dst = a.edge_index
    assert (a.y[src] == a.y[dst]).float().mean() > 0.6  # like a citation graph
    assert (a.edge_index[0] != a.edge_index[1]).all()


def test_synthetic_graph_refuses_impossible_sizes():
    with pytest.raises(ConfigError, match="synthetic-graph needs num_nodes >= 10\\*num_classes"):
        create_task("synthetic-graph", num_nodes=10, num_classes=4).prepare("cpu")
