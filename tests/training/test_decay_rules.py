"""The trainer's nanoGPT settings: weight decay on matrices only, Adam's beta2.

nanoGPT's tiny-shakespeare recipe (AdamW, betas (0.9, 0.99), decay 0.1 on 2-D
tensors only) is what the ``nanogpt-cpu`` baseline of ``charlm`` is trained
with; a study file asks for it with ``decay = "matrices"`` and ``beta2 = 0.99``.
"""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError
from nas.evaluators.train import TrainEvaluator
from nas.tasks import create_task
from nas.train import TrainSettings, _optimizer
from search_spaces import TaskSpec, create_space

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPEC = TaskSpec("sequence", 16, 16, 24)


def _charlm():
    space = create_space("charlm")
    return space.build(space.default().replace(num_layers=2), SPEC)


def test_decay_on_matrices_leaves_biases_norms_and_nothing_else_undecayed():
    model = _charlm()
    optimizer = _optimizer(model, TrainSettings(optimizer="adamw", weight_decay=0.1,
                                                decay="matrices", beta2=0.99))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    assert decayed["betas"] == (0.9, 0.99)


def test_the_defaults_decay_everything_with_torchs_betas():
    optimizer = _optimizer(_charlm(), TrainSettings(optimizer="adam", weight_decay=0.1))
    (group,) = optimizer.param_groups
    assert group["weight_decay"] == 0.1 and group["betas"] == (0.9, 0.999)


def test_undecayed_biases_keep_their_values_where_decayed_ones_shrink():
    """With a zero gradient, AdamW's decoupled decay alone moves a tensor."""
    model = _charlm()
    optimizer = _optimizer(model, TrainSettings(optimizer="adamw", lr=0.1, weight_decay=0.5,
                                                decay="matrices"))
    bias, weight = model.head.bias, model.head.weight
    before_bias, before_weight = bias.detach().clone(), weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    assert torch.equal(bias.detach(), before_bias)
    assert torch.allclose(weight.detach(), before_weight * (1 - 0.1 * 0.5))


@pytest.mark.parametrize(("params", "message"), [
    ({"decay": "biases"}, r"evaluator.params.decay: 'biases' is not allowed; allowed: all, matrices"),
    ({"beta2": 1.0}, r"evaluator.params.beta2: must be below 1"),
])
def test_bad_recipe_params_are_one_line_config_errors(params, message):
    task = create_task("synthetic-seq", seed=0)
    with pytest.raises(ConfigError, match=message):
        TrainEvaluator(create_space("charlm"), task, params)
