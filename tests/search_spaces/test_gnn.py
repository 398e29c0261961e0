"""The ``gnn`` space's own rules: APPNP without message passing, skips, heads, sparse input."""

from __future__ import annotations

import pytest
import torch

from nas.errors import InvalidArchitecture
from nas.train import TrainSettings, seed_everything, train_model
from search_spaces import TaskSpec, create_space

SPEC = TaskSpec("graph", 12, 3)


@pytest.fixture(scope="module")
def space():
    return create_space("gnn")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def graph(nodes: int = 30, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(nodes, 12, generator=gen) * (torch.rand(nodes, 12, generator=gen) < 0.3)
    edge_index = torch.randint(0, nodes, (2, 90), generator=gen)
    return x, edge_index


def test_no_message_passing_with_propagation_is_appnp(space):
    # APPNP (Klicpera et al. 2019): an MLP, then personalised-PageRank propagation of its logits.
    arch = space.default().replace(mp_layers=0, propagation_steps=10, pre_layers=1, post_layers=1)
    model = space.build(arch, SPEC).eval()
    assert len(model.convs) == 0 and model.propagation is not None
    x, edge_index = graph()
    with torch.no_grad():
        logits = model(x, edge_index)
        model.propagation = None
        mlp_logits = model(x, edge_index)
    assert logits.shape == (30, 3)
    assert not torch.allclose(logits, mlp_logits), "propagation must mix neighbours' logits"


def test_concat_skips_widen_the_head_input(space):
    arch = space.default().replace(skip="concat", mp_layers=3, hidden_dim=16, conv="gcn")
    model = space.build(arch, SPEC)
    assert model.head[0].in_features == 16 * 4
    assert space.build(arch.replace(skip="sum"), SPEC).head[0].in_features == 16


def test_sparse_and_dense_features_give_the_same_logits(space):
    # Tasks train on sparse bag-of-words features and export on dense ones.
    arch = space.default().replace(conv="sage", pre_layers=2, batch_norm=True)
    model = space.build(arch, SPEC).eval()
    x, edge_index = graph()
    with torch.no_grad():
        dense = model(x, edge_index)
        sparse = model(x.to_sparse_coo(), edge_index)
    assert torch.allclose(dense, sparse, atol=1e-6)


def test_validate_names_a_bad_conv_and_its_allowed_values(space):
    with pytest.raises(InvalidArchitecture, match="'conv' = 'transformerish' is not allowed; "
                                                  "allowed: {gcn, gat, gatv2, sage, gin"):
        space.validate(space.default().replace(conv="transformerish"))


def test_selecting_by_validation_loss_keeps_the_lowest_loss_epoch(data_dir):
    from nas.tasks import create_task

    task = create_task("synthetic-graph", seed=0, num_nodes=200)
    spec = task.prepare("cpu")
    space = create_space("gnn")
    arch = space.default().replace(hidden_dim=16)
    results = {}
    for select in ("metric", "loss"):
        settings = TrainSettings(epochs=15, patience=15, select=select)
        seed_everything(0)  # the same initial weights for both rules
        results[select] = train_model(space.build(arch, spec), task, settings, seed=0)
    by_loss = results["loss"]
    assert by_loss.best_epoch >= 1
    # The kept weights are the lowest-validation-loss epoch's: re-evaluating them gives its figures.
    model = space.build(arch, spec)
    model.load_state_dict(by_loss.state_dict)
    again = task.evaluate_splits(model, ("val",))["val"]
    assert again["loss"] == pytest.approx(by_loss.val["loss"], abs=1e-6)
    # Same seed, same run: the metric rule's best accuracy is at least the loss rule's.
    assert results["metric"].val["accuracy"] >= by_loss.val["accuracy"]
    with pytest.raises(Exception, match="select: 'median' is not allowed; allowed: metric, loss"):
        train_model(space.build(arch, spec), task, TrainSettings(epochs=1, select="median"))


def test_gcnii_layers_read_the_encoder_output_and_ignore_skips(space):
    # GCNII (Chen et al. 2020): every layer mixes in the initial representation (alpha).
    from torch_geometric.nn import GCN2Conv

    arch = space.default().replace(conv="gcnii", mp_layers=3, skip="concat", hidden_dim=16)
    model = space.build(arch, SPEC).eval()
    assert all(isinstance(conv, GCN2Conv) for conv in model.convs)
    assert model.head[0].in_features == 16, "GCNII has its own residuals: no concat skips"
    x, edge_index = graph()
    with torch.no_grad():
        strong = model(x, edge_index)
        for conv in model.convs:
            conv.alpha = 0.9
        assert not torch.allclose(strong, model(x, edge_index))


def test_propagation_runs_on_the_logits_or_on_the_hidden_features(space):
    arch = space.default().replace(mp_layers=0, propagation_steps=5, hidden_dim=16)
    seen = {}
    for where in ("logits", "hidden"):
        torch.manual_seed(0)
        model = space.build(arch.replace(propagation_at=where), SPEC).eval()
        model.propagation.register_forward_hook(
            lambda _m, _i, out, where=where: seen.__setitem__(where, out.shape[-1]))
        with torch.no_grad():
            model(*graph())
    assert seen == {"logits": 3, "hidden": 16}


def test_edge_dropout_drops_edges_in_training_only(space):
    arch = space.default().replace(edge_dropout=0.5, dropout=0.0, input_dropout=0.0)
    model = space.build(arch, SPEC)
    x, edge_index = graph()
    torch.manual_seed(0)
    first, second = model(x, edge_index), model(x, edge_index)
    assert not torch.allclose(first, second), "each training pass draws other edges"
    model.eval()
    assert torch.equal(model(x, edge_index), model(x, edge_index))


def test_decay_on_input_regularises_only_the_feature_and_graph_layers(space):
    from nas.train import _optimizer

    arch = space.default().replace(decay_on="input", pre_layers=2, post_layers=2, hidden_dim=16)
    model = space.build(arch, SPEC)
    groups = _optimizer(model, TrainSettings(weight_decay=0.01)).param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] == 0.01 for p in g["params"]}
    assert decayed == {id(p) for p in [*model.encoder[0].parameters(), *model.convs.parameters()]}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    everything = _optimizer(space.build(arch.replace(decay_on="all"), SPEC),
                            TrainSettings(weight_decay=0.01)).param_groups
    assert [g["weight_decay"] for g in everything] == [0.01]


def test_baselines_are_presets_that_fix_every_choice():
    from nas.errors import ConfigError

    gat = create_space("gnn", {"baseline": "gat"})
    assert gat.size() == 1
    assert gat.default()["conv"] == "gat" and gat.default()["heads"] == 8
    assert create_space("gnn", {"baseline": "gcn", "hidden_dim": [16]}).default()["hidden_dim"] == 16
    with pytest.raises(ConfigError, match="space.baseline: 'gin' is not a baseline of space "
                                          "'gnn'; baselines: gcn, gat, appnp, grand"):
        create_space("gnn", {"baseline": "gin"})


def test_an_architecture_stored_before_the_new_choices_still_loads_as_it_trained(space):
    new = ("propagation_at", "propagation_alpha", "input_dropout", "edge_dropout", "decay_on",
           "propagation_kind", "node_dropout", "consistency")
    stored = {k: v for k, v in space.default().replace(dropout=0.6).items() if k not in new}
    arch = space.validate(stored)
    assert arch["input_dropout"] == 0.6 and arch["edge_dropout"] == 0.0
    assert arch["propagation_at"] == "logits" and arch["decay_on"] == "all"
    assert arch["propagation_kind"] == "ppr" and arch["node_dropout"] == 0.0
    assert arch["consistency"] == 1
    with pytest.raises(InvalidArchitecture, match="missing choice 'dropout'"):
        space.validate({k: v for k, v in stored.items() if k != "dropout"})


def test_active_choices_leave_out_what_the_model_does_not_use(space):
    arch = dict(space.default())
    arch.update(mp_layers=2, conv="gat", propagation_steps=5)
    assert space.active_choices(arch) == frozenset(arch) - {"aggregation"}
    # Without propagation, its kind and DropNode (which drops the propagation's input) do nothing.
    assert space.active_choices({**arch, "propagation_steps": 0}) == (
        frozenset(arch) - {"aggregation", "propagation_kind", "node_dropout"})
    arch.update(conv="sage")
    assert space.active_choices(arch) == frozenset(arch) - {"heads"}
    arch.update(mp_layers=0)
    assert space.active_choices(arch) == frozenset(arch) - {"conv", "heads", "aggregation", "skip"}
    # Choices that do nothing cannot change the model: the same parameter count.
    spec = TaskSpec("graph", 8, 3)
    other = {**arch, "conv": "gat", "heads": 4, "aggregation": "max", "skip": "concat"}
    count = [sum(p.numel() for p in space.build(space.validate(a), spec).parameters())
             for a in (arch, other)]
    assert count[0] == count[1]


def test_the_appnp_preset_decays_only_its_first_layer_as_its_paper(space):
    # APPNP (Klicpera et al. 2019): L2 0.005 on the first layer's weights, none elsewhere.
    arch = space.validate(space.baselines["appnp"])
    model = space.build(arch, SPEC)
    decayed, free = model.parameter_groups(float(arch["weight_decay"]))
    assert decayed["weight_decay"] == pytest.approx(5e-3) and free["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.encoder[0].parameters()}
    assert free["params"], "the classifier must be left undecayed"


def test_propagation_reaches_twenty_steps(space):
    arch = space.validate(space.baselines["appnp"]).replace(propagation_steps=20)
    model = space.build(space.validate(arch), SPEC).eval()
    assert model.propagation.K == 20
    x, edge_index = graph()
    with torch.no_grad():
        assert torch.isfinite(model(x, edge_index)).all()


def test_mean_propagation_is_the_mean_of_the_normalised_adjacency_powers():
    # GRAND's mixed order: (h + Âh + Â²h + Â³h) / 4 with Â = D^-1/2 (A + I) D^-1/2, and its
    # gradient Âᵀ-wise: checked against dense matrices on a directed graph (Â not symmetric).
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from search_spaces.gnn import MeanPropagation

    x, edge_index = graph()
    index, weight = gcn_norm(edge_index, None, 30, add_self_loops=True)
    adjacency = torch.zeros(30, 30).index_put_((index[1], index[0]), weight, accumulate=True)
    assert not torch.allclose(adjacency, adjacency.t())
    h = x.clone().requires_grad_(True)
    out = MeanPropagation(3)(h, edge_index)
    power, expected = x, x
    for _ in range(3):
        power = adjacency @ power
        expected = expected + power
    assert torch.allclose(out, expected / 4, atol=1e-6)
    # Traced (as `nas export` does), it computes the same sum without the CSR products and
    # without the cached graph: the traced model reads the graph it is given.
    traced = torch.jit.trace(MeanPropagation(3), (x, edge_index), check_trace=False)
    assert torch.allclose(traced(x, edge_index), expected / 4, atol=1e-5)
    other = torch.randint(0, 30, (2, 60), generator=torch.Generator().manual_seed(2))
    assert torch.allclose(traced(x, other), MeanPropagation(3)(x, other), atol=1e-5)
    upstream = torch.randn(30, 12, generator=torch.Generator().manual_seed(1))
    (grad,) = torch.autograd.grad(out, h, upstream)
    dense_grad = sum(torch.linalg.matrix_power(adjacency.t(), k) @ upstream for k in range(4)) / 4
    assert torch.allclose(grad, dense_grad, atol=1e-5)


def test_sparse_features_train_with_the_same_gradients_as_dense_ones(space):
    # The sparse path multiplies CSR matrices with a hand-written backward: its gradients
    # must be autograd's on dense features (no dropout, so both passes see the same input).
    arch = space.default().replace(mp_layers=0, propagation_steps=5, propagation_kind="mean",
                                   input_dropout=0.0, dropout=0.0)
    x, edge_index = graph()
    grads = []
    for features in (x, x.to_sparse_coo()):
        torch.manual_seed(0)
        model = space.build(arch, SPEC).train()
        model(features, edge_index).pow(2).sum().backward()
        grads.append(model.encoder[0].weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_drop_node_drops_whole_rows_of_the_propagation_input_in_training_only(space):
    arch = space.default().replace(mp_layers=0, propagation_steps=2, propagation_at="hidden",
                                   node_dropout=0.5, dropout=0.0, input_dropout=0.0)
    model = space.build(arch, SPEC)
    h = torch.ones(200, 4)
    torch.manual_seed(0)
    dropped = model.train()._drop_nodes(h)
    kept_rows = dropped[:, 0] != 0
    assert 60 < int(kept_rows.sum()) < 140, "about half the nodes are dropped"
    assert torch.equal(dropped[~kept_rows], torch.zeros_like(dropped[~kept_rows])), "whole rows"
    assert torch.allclose(dropped[kept_rows], torch.full_like(dropped[kept_rows], 2.0))
    assert torch.equal(model.eval()._drop_nodes(h), h)
    x, edge_index = graph()
    with torch.no_grad():
        assert torch.equal(model(x, edge_index), model(x, edge_index)), "deterministic in eval"


def test_the_grand_preset_is_an_mlp_with_drop_node_mean_propagation_and_consistency(space):
    arch = space.validate(space.baselines["grand"])
    assert arch["consistency"] == 4 and space.active_choices(arch) >= {"node_dropout", "consistency"}
    model = space.build(arch, SPEC)
    assert len(model.convs) == 0 and type(model.propagation).__name__ == "MeanPropagation"
    assert model.node_dropout == 0.5 and model.propagation.steps == 8
