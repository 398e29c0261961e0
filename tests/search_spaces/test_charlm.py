"""The ``charlm`` space: causal decoder, per-layer choices, overrides, and learning on real tokens."""

from __future__ import annotations

import math

import pytest
import torch

from nas.errors import ConfigError, InvalidArchitecture
from nas.evaluators.train import TrainEvaluator
from nas.tasks import create_task
from search_spaces import TaskSpec, create_space
from search_spaces.charlm import CharLM

SPEC = TaskSpec("sequence", 16, 16, 24)


@pytest.fixture
def space():
    torch.set_num_threads(1)
    return create_space("charlm")


def test_predictions_never_look_at_later_tokens(space):
    model = space.build(space.default().replace(num_layers=2), SPEC).eval()
    tokens = torch.randint(0, 16, (1, 24), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[0, 12:] = (changed[0, 12:] + 1) % 16
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.allclose(before[0, :12], after[0, :12], atol=1e-5)
    assert not torch.allclose(before[0, 12:], after[0, 12:])


def test_shorter_sequences_are_accepted(space):
    model = space.build(space.smallest(), SPEC)
    assert model(torch.zeros(3, 7, dtype=torch.long)).shape == (3, 7, 16)


def test_choices_of_layers_beyond_num_layers_are_ignored(space):
    arch = space.default().replace(num_layers=2, layer1_heads=2)
    other = arch.replace(layer5_heads=8, layer6_ffn_dim=512)
    assert (space.encode(arch) == space.encode(other)).all()
    assert (space.encode(arch) != space.encode(arch.replace(layer1_heads=8))).any()
    first, second = space.build(arch, SPEC), space.build(other, SPEC)
    assert [p.shape for p in first.parameters()] == [p.shape for p in second.parameters()]
    assert len(first.blocks) == 2


def test_size_counts_distinct_models(space):
    narrowed = create_space("charlm", {"num_layers": [1, 2], "model_dim": 64})
    per_layer = 3 * 3  # heads x ffn_dim
    assert narrowed.size() == per_layer + per_layer**2
    assert space.size() > narrowed.size()


def test_largest_and_smallest_are_the_extremes(space):
    largest, smallest = space.largest(), space.smallest()
    assert largest["num_layers"] == 6 and largest["model_dim"] == 192
    assert smallest["num_layers"] == 2 and smallest["model_dim"] == 64


def test_check_names_the_layer_whose_heads_do_not_divide_the_dim(space):
    # A space never samples such an arch (overrides are checked up front), but an arch
    # from elsewhere (a file, another study) goes through the same rule.
    arch = space.default().replace(model_dim=64, num_layers=2, layer2_heads=3)
    with pytest.raises(InvalidArchitecture, match="layer2_heads = 3 does not divide the model dim 64"):
        space.check(arch)
    space.check(arch.replace(num_layers=1))  # layer 2 inactive: fine


@pytest.mark.parametrize(("overrides", "message"), [
    ({"model_dim": [64, 100]}, r"space.choices.model_dim: 100 is not allowed; allowed: 32, 48"),
    ({"num_layers": []}, r"space.choices.num_layers: an override list must not be empty"),
    ({"model_dim": [64], "layer1_heads": [2, 3]},
     r"space.choices.layer1_heads: 3 heads do not divide model_dim 64"),
    ({"layers": [2]}, r"space.choices.layers: unknown choice for space 'charlm'"),
])
def test_malformed_overrides_are_config_errors_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_space("charlm", overrides)


def test_overrides_may_widen_to_allowed_values():
    space = create_space("charlm", {"model_dim": [48], "layer1_heads": [3, 6], "num_layers": 1})
    model = space.build(space.largest(), SPEC)
    assert model.token_embed.embedding_dim == 48 and model.blocks[0].attn.heads == 6


def test_a_small_model_learns_the_synthetic_sequence(data_dir):
    space = create_space("charlm", {"num_layers": 1, "model_dim": 32})
    task = create_task("synthetic-seq", data_dir=data_dir, steps_per_epoch=30)
    evaluator = TrainEvaluator(space, task, {"epochs": 3, "lr": 0.01, "save_weights": False,
                                             "latency_repeats": 2})
    arch = space.smallest()
    metrics = evaluator.evaluate(arch).metrics
    guessing = math.log2(16)
    assert metrics["val_bpc"] < guessing - 1.0, metrics
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / math.log(2))
    assert metrics["params"] > 0 and metrics["flops"] > 0 and metrics["latency_ms"] > 0


def test_the_nanogpt_cpu_preset_is_nanogpts_shakespeare_model():
    preset = create_space("charlm", {"baseline": "nanogpt-cpu"})
    assert preset.size() == 1
    arch = preset.default()
    model = preset.build(arch, TaskSpec(family="sequence", input_dim=65, num_classes=65, input_size=64))
    # nanoGPT prints 0.80M for this configuration: it leaves the position table out and
    # ties its head to the token embedding, where ours has a head of its own.
    weights = (sum(p.numel() for p in model.parameters()) - model.pos_embed.numel()
               - model.head.weight.numel())
    assert round(weights / 1e6, 2) == 0.80
    assert [(b.attn.heads, b.mlp.fc1.out_features) for b in model.blocks] == [(4, 512)] * 4


def test_lr_scale_multiplies_the_evaluators_lr_and_defaults_to_it(data_dir):
    """A study may search the peak lr relative to its recipe; everything else trains as before."""
    task = create_task("synthetic-seq", data_dir=data_dir, steps_per_epoch=2)
    params = {"epochs": 1, "lr": 0.002, "save_weights": False}
    plain = create_space("charlm")
    assert plain.choices()["lr_scale"].values == (1.0,)  # not searched unless a study asks
    evaluator = TrainEvaluator(plain, task, params)
    assert evaluator.settings(plain.default()).lr == 0.002
    # an architecture stored before the choice existed was trained with the evaluator's lr
    stored = {k: v for k, v in plain.default().items() if k != "lr_scale"}
    assert plain.validate(stored)["lr_scale"] == 1.0

    widened = create_space("charlm", {"lr_scale": [1, 3]})
    arch = widened.validate({**widened.default(), "lr_scale": 3})
    assert TrainEvaluator(widened, task, params).settings(arch).lr == pytest.approx(0.006)
    preset = create_space("charlm", {"baseline": "nanogpt-cpu"})
    assert preset.default()["lr_scale"] == 1.0
    with pytest.raises(ConfigError, match="space.choices.lr_scale: 10 is not allowed"):
        create_space("charlm", {"lr_scale": [1, 10]})


def test_pos_embed_std_keeps_todays_init_unless_a_study_widens_it():
    plain = create_space("charlm")
    assert plain.choices()["pos_embed_std"].values == (0.02,)
    stored = {k: v for k, v in plain.default().items() if k != "pos_embed_std"}
    assert plain.validate(stored)["pos_embed_std"] == 0.02
    torch.manual_seed(0)
    today = plain.build(plain.default(), SPEC)
    torch.manual_seed(0)
    before = CharLM(16, 24, 128, [(4, 256)] * 4)  # how build() made it before the choice
    assert all(torch.equal(a, b) for a, b in zip(today.state_dict().values(),
                                                 before.state_dict().values()))
    widened = create_space("charlm", {"pos_embed_std": [0.02, 1.0], "model_dim": [128]})
    space_model = widened.build(widened.default().replace(pos_embed_std=1.0), SPEC)
    assert 0.8 < float(space_model.pos_embed.std()) < 1.2
    assert create_space("charlm", {"baseline": "nanogpt-cpu"}).default()["pos_embed_std"] == 0.02
