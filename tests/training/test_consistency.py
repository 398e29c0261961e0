"""GRAND's consistency regularisation in the shared trainer (Feng et al. 2020).

With ``consistency = S`` (an ``evaluator.params`` value, or the ``gnn`` space's
``consistency`` choice) each training step runs S stochastic passes, averages
their task losses and pulls every row's prediction, the unlabelled nodes
included, towards the passes' sharpened mean.
"""

from __future__ import annotations

import pytest
import torch

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators.train import TrainEvaluator
from nas.tasks import create_task
from nas.train import TrainSettings, consistency_loss, seed_everything, train_model
from search_spaces import create_space

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_term_is_zero_for_agreeing_passes_and_pulls_towards_the_sharpened_mean():
    same = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    assert float(consistency_loss([same, same], temperature=1.0)) == pytest.approx(0.0, abs=1e-7)
    # Agreeing but unsure passes still pay at T < 1: the target is sharper than they are.
    assert float(consistency_loss([same, same], temperature=0.5)) > 0.01
    a = torch.tensor([[3.0, 0.0]], requires_grad=True)
    b = torch.tensor([[0.0, 3.0]], requires_grad=True)
    loss = consistency_loss([a, b], temperature=1.0)
    loss.backward()
    # The target is fixed (detached): each pass moves towards the mean, in opposite directions.
    assert a.grad[0, 0] > 0 > a.grad[0, 1] and b.grad[0, 1] > 0 > b.grad[0, 0]


def test_each_step_runs_that_many_passes_and_a_deterministic_model_pays_nothing_extra():
    task = create_task("synthetic-graph", seed=0, num_nodes=120)
    spec = task.prepare("cpu")
    space = create_space("gnn")
    arch = space.default().replace(hidden_dim=16, dropout=0.0, input_dropout=0.0)
    runs = {}
    for passes in (1, 3):
        seed_everything(0)  # the same initial weights for both
        model = space.build(arch, spec)
        calls = {"train": 0}

        def count(module, _args, _out, calls=calls):
            calls["train"] += module.training

        model.register_forward_hook(count)
        settings = TrainSettings(epochs=4, patience=10, consistency=passes,
                                 consistency_temperature=1.0)
        runs[passes] = train_model(model, task, settings, seed=0)
        assert calls["train"] == 4 * passes
    # No dropout: the passes agree, the term is zero, and training is the same as one pass.
    assert runs[3].val["loss"] == pytest.approx(runs[1].val["loss"], rel=1e-5)


def test_the_architectures_choice_wins_over_the_study_files_value():
    task = create_task("synthetic-graph", seed=0)
    evaluator = TrainEvaluator(create_space("gnn"), task, {"consistency": 2,
                                                           "consistency_temperature": 0.3})
    assert evaluator.settings(Architecture({})).consistency == 2
    settings = evaluator.settings(Architecture({"consistency": 4}))
    assert settings.consistency == 4 and settings.consistency_temperature == 0.3


@pytest.mark.parametrize(("params", "message"), [
    ({"consistency_temperature": 1.5}, r"evaluator.params.consistency_temperature: must be in \(0, 1\]"),
    ({"consistency": 0}, r"evaluator.params.consistency: must be positive"),
    ({"consistency": 2.5}, r"evaluator.params.consistency: must be int"),
])
def test_bad_consistency_params_are_one_line_config_errors(params, message):
    task = create_task("synthetic-graph", seed=0)
    with pytest.raises(ConfigError, match=message):
        TrainEvaluator(create_space("gnn"), task, params)
