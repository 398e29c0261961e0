"""The ``resnet`` space: ResNet-20 as a preset, the parameter cap, the study file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import optuna
import pytest
import torch

from nas.config import load_study_file, parse_study
from nas.errors import ConfigError, InvalidArchitecture
from nas.evaluators import EVALUATORS
from nas.metrics import Batch, count_flops
from nas.tasks import create_task
from search_spaces import TaskSpec, create_space
from search_spaces.resnet import BasicBlock, flops_count, parameter_count
from tests.conftest import REPO

SPEC = TaskSpec("image", 3, 10, 32)
STUDY = REPO / "studies" / "resnet_cifar10.toml"
#: He et al. 2016's ResNet-20 for CIFAR-10 with option-A shortcuts (the "0.27M" of their table 6)
RESNET20_PARAMS = 269_722


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnet20_preset_is_he_et_al_resnet20():
    space = create_space("resnet", {"baseline": "resnet20"})
    model = space.build(space.default(), SPEC)
    assert _count(model) == RESNET20_PARAMS
    blocks = [b for b in model.blocks if isinstance(b, BasicBlock)]
    assert len(blocks) == 9 and 1 + 2 * len(blocks) + 1 == 20  # stem, 18 convs, classifier
    assert [b.conv2.out_channels for b in blocks] == [16] * 3 + [32] * 3 + [64] * 3
    assert [b.stride for b in blocks] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert all(b.project is None for b in blocks)  # option A: no shortcut parameters
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert create_space("resnet").default() == space.default()  # the space's default is it too


def test_parameter_count_matches_the_built_model():
    space = create_space("resnet", {"s2_width": [8, 32], "s3_width": [16, 64]})  # narrowing too
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(25):
        arch = space.sample(study.ask())
        assert parameter_count(arch, num_classes=10) == _count(space.build(arch, SPEC)), arch


def test_a_narrower_stage_projects_its_shortcut():
    space = create_space("resnet", {"s2_width": [8]})
    model = space.build(space.default(), SPEC)
    first = [b for b in model.blocks if isinstance(b, BasicBlock)][3]
    assert first.project is not None
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_an_architecture_outside_the_space_is_refused_naming_the_field():
    space = create_space("resnet")
    with pytest.raises(InvalidArchitecture, match=r"'s2_width' = 30 is not allowed; allowed: \{32"):
        space.validate(space.default().replace(s2_width=30))
    with pytest.raises(InvalidArchitecture, match="unknown choice 'width_mult'"):
        space.validate({**space.default(), "width_mult": 1.0})
    with pytest.raises(ConfigError, match="space.choices.s1_kernel: .*must be odd"):
        create_space("resnet", {"s1_kernel": [4]})
    with pytest.raises(ConfigError, match="'resnet18' is not a baseline of space 'resnet'; "
                                          "baselines: resnet20"):
        create_space("resnet", {"baseline": "resnet18"})


def test_max_params_makes_bigger_architectures_invalid():
    space = create_space("resnet", {"max_params": RESNET20_PARAMS})
    assert space.validate(space.default())  # ResNet-20 itself is at the cap
    wider = space.default().replace(s3_width=80)
    with pytest.raises(InvalidArchitecture, match=r"parameters .* above space.max_params = 269,722"):
        space.validate(wider)
    with pytest.raises(ConfigError, match="space.max_params: must be a positive integer"):
        create_space("resnet", {"max_params": "0.27M"})
    # Other spaces have no cap: said as such, not as an unknown choice.
    with pytest.raises(ConfigError, match="space.max_params: space 'gnn' has no such setting; "
                                          "a parameter cap is a setting of the resnet space only"):
        create_space("gnn", {"max_params": 1000})


def test_flops_counted_from_the_architecture_are_the_built_models():
    # widths that force a 1x1 projection (a stage narrower than the one before), SE, 5x5
    space = create_space("resnet", {"s1_width": [24], "s2_width": [16], "s3_width": [48],
                                    "s2_kernel": [5], "se": [True]})
    images = Batch((torch.randn(2, 3, 32, 32),), None)
    plain = create_space("resnet")
    for arch, builder in ((plain.default(), plain), (space.default(), space)):
        model = builder.build(arch, SPEC)
        assert flops_count(arch, num_classes=10) * 2 == count_flops(model, images)
    assert flops_count(create_space("resnet").default(), num_classes=10) == 81_102_080


def test_max_flops_makes_costlier_architectures_invalid():
    space = create_space("resnet", {"max_flops": 48_000_000})
    with pytest.raises(InvalidArchitecture, match=r"81,102,080 FLOPs per 32x32 image is above "
                                                  r"space.max_flops = 48,000,000"):
        space.validate(space.default())  # ResNet-20
    lighter = space.default().replace(s1_depth=1, s1_width=12, s2_depth=2)
    assert flops_count(lighter, num_classes=10) <= 48_000_000
    assert space.validate(lighter) == lighter
    with pytest.raises(ConfigError, match="space.max_flops: must be a positive integer, got 0"):
        create_space("resnet", {"max_flops": 0})
    with pytest.raises(ConfigError, match="space.max_flops: space 'gnn' has no such setting"):
        create_space("gnn", {"max_flops": 1000})


def test_a_widened_choice_is_not_refused_for_a_cap_that_lighter_choices_meet():
    # ResNet-20 with a 32-wide stage 1 is above both caps, but the value is usable with
    # fewer blocks elsewhere; the caps refuse architectures, not choice values.
    space = create_space("resnet", {"max_params": 270_000, "max_flops": 60_000_000,
                                    "s1_width": [16, 32], "s3_width": [64, 96]})
    light = space.default().replace(s1_depth=1, s1_width=32, s2_depth=1, s3_depth=1)
    assert space.validate(light) == light
    with pytest.raises(InvalidArchitecture, match="above space.max_params = 270,000"):
        space.validate(space.default().replace(s1_width=32))
    with pytest.raises(ConfigError, match=r"space.choices.s1_kernel: 4 cannot be used: "
                                          r"resnet: s1_kernel = 4 must be odd"):
        create_space("resnet", {"max_params": 270_000, "s1_kernel": [3, 4]})


def test_a_search_under_the_cap_never_trains_a_bigger_network(tmp_path):
    text = STUDY.read_text()
    data = tomllib.loads(text)
    data["evaluator"] = {"name": "proxy", "params": {"proxies": ["synflow"], "batch_size": 8,
                                                     "cache": "none"}}
    data["objectives"] = [{"metric": "proxy_score", "direction": "maximize"}]
    data["budget"] = {"n_trials": 6}
    data["device"] = "cpu"
    data["task"]["params"] = {"train_size": 64, "val_size": 32, "batch_size": 16}
    config = parse_study(data).with_overrides(
        storage=f"sqlite:///{tmp_path / 'study.db'}", data_dir=str(REPO.parent / "shared" / "data"))
    from nas.search import run

    run(config, progress=False)
    study = optuna.load_study(study_name=config.name, storage=config.storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6
    cap = config.space.params["max_flops"]
    refused = set()
    for trial in study.trials:
        arch = trial.user_attrs.get("arch") or trial.params
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert parameter_count(arch, 10) <= RESNET20_PARAMS
            assert flops_count(arch, 10) <= cap
        elif "invalid" in trial.user_attrs:
            refused.add(trial.user_attrs["invalid"].split(" is ")[1].split(" = ")[0])
    assert refused <= {"above space.max_params", "above space.max_flops"}


def test_resnet20_trains_with_the_study_recipe(data_dir):
    """The study's final rung, shortened: SGD, one-cycle, crop + flip on real CIFAR images."""
    config = load_study_file(STUDY)
    final = dict(config.evaluator.params["rungs"][-1]["params"])
    assert (final["optimizer"], final["schedule"], final["epochs"]) == ("sgd", "onecycle", 30)
    # 24 steps instead of 2,100: the recipe's peak lr (0.2) needs the long schedule
    final.update(epochs=3, patience=3, eval_every=1, latency_repeats=1, save_weights=False, lr=0.05)
    task = create_task("cifar10-subset", data_dir=str(data_dir), train_size=512, val_size=200,
                       batch_size=64)
    space = create_space("resnet", {"baseline": "resnet20"})
    evaluator = EVALUATORS.get("train")(space, task, final, device="cpu", seed=0)
    metrics = evaluator.evaluate(space.default()).metrics
    assert metrics["params"] == RESNET20_PARAMS
    assert task.options["augment"] is True
    assert metrics["val_accuracy"] > 0.15  # chance: 0.10 (measured: 0.25)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_the_study_file_is_valid_and_caps_below_resnet20s_flops():
    config = load_study_file(STUDY)
    assert config.space.params["max_params"] >= RESNET20_PARAMS
    resnet20 = create_space("resnet").default()
    assert config.space.params["max_flops"] <= 0.6 * flops_count(resnet20, num_classes=10)
    assert config.device == "auto"
    assert [r["evaluator"] for r in config.evaluator.params["rungs"]] == ["proxy", "train", "train"]
    assert Path(STUDY).name in (REPO / "README.md").read_text()
