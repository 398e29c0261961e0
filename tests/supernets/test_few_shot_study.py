"""Few-shot supernets from a study file: ``[supernet] split_on`` trains one supernet per group,
and the ``supernet`` evaluator scores every architecture with its own group's weights."""

from __future__ import annotations

import itertools
from pathlib import Path

import optuna
import pytest
import torch

from nas.evaluators import EVALUATORS
from nas.supernet.from_study import load_supernet
from nas.tasks import create_task
from search_spaces import create_space
from tests.conftest import DATA_DIR, run_nas
from tests.supernets.test_training import STUDY

ENV = {"OMP_NUM_THREADS": "1"}
SPLIT = '["batch_norm", "mp_layers"]'
GROUPS = [{"batch_norm": bn, "mp_layers": mp} for bn, mp in itertools.product([False, True], [1, 2])]


def few_shot_study(folder: Path, split_on: str = SPLIT, epochs: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = STUDY.format(epochs=epochs).replace('checkpoint_dir = "ckpt"',
                                               f'checkpoint_dir = "ckpt"\nsplit_on = {split_on}')
    (folder / "study.toml").write_text(text)
    return folder / "study.toml"


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A few-shot supernet trained by ``nas train-supernet``, then searched with it."""
    folder = tmp_path_factory.mktemp("few-shot")
    study = few_shot_study(folder)
    trained = run_nas("train-supernet", str(study), "--no-progress", cwd=folder, env=ENV)
    assert trained.returncode == 0, trained.stderr
    assert "few-shot supernet gnn/synthetic-graph: 4 groups" in trained.stdout
    for group in GROUPS:
        assert f"group batch_norm={group['batch_norm']}, mp_layers={group['mp_layers']}: epoch 2" \
            in trained.stdout
    searched = run_nas("search", str(study), "--no-progress", cwd=folder, env=ENV)
    assert searched.returncode == 0, searched.stderr
    assert "6 complete, 0 failed trials" in searched.stdout
    return folder


def test_each_group_has_its_own_checkpoint_naming_its_fixed_choices(searched: Path) -> None:
    final = sorted(searched.glob("ckpt/tiny-supernet-*-epoch0002.pt"))
    groups = [torch.load(path, weights_only=True)["group"] for path in final]
    assert sorted(groups, key=str) == sorted(GROUPS, key=str)
    # Without batch norm a group's supernet has no BN weights at all: a narrower network.
    no_bn = next(p for p, g in zip(final, groups) if not g["batch_norm"])
    assert not any("norm" in key for key in torch.load(no_bn, weights_only=True)["supernet"])


def test_every_trial_is_scored_by_its_own_groups_supernet(searched: Path) -> None:
    study = optuna.load_study(study_name="tiny-supernet", storage=f"sqlite:///{searched / 'nas.db'}")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 6
    space = create_space("gnn", {"hidden_dim": [16, 32], "heads": [1, 2], "mp_layers": [1, 2],
                                 "propagation_steps": [0], "lr": 0.01, "weight_decay": 0.0005})
    task = create_task("synthetic-graph", data_dir=DATA_DIR, seed=3, num_nodes=300, num_features=16)
    task.prepare("cpu")
    evaluator = EVALUATORS.get("supernet")(space, task, {"bn_batches": 1}, device="cpu", seed=0)
    for trial in trials:
        arch = space.validate(trial.user_attrs["arch"])
        path = searched / trial.user_attrs["checkpoint"]  # relative to where the search ran
        group = torch.load(path, weights_only=True)["group"]
        assert group == {"batch_norm": arch["batch_norm"], "mp_layers": arch["mp_layers"]}
        # The recorded score is the group supernet's: rescoring with it gives the same figure.
        supernet = load_supernet(path, space, task).eval()
        again = evaluator.score(supernet, arch)
        assert again["val_accuracy"] == pytest.approx(trial.values[0], abs=1e-6)


def test_a_few_shot_trial_exports_with_its_groups_weights(searched: Path) -> None:
    import nas

    result = run_nas("export", "tiny-supernet", "--pareto", "--out", str(searched / "exported"),
                     cwd=searched, env=ENV)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="tiny-supernet", storage=f"sqlite:///{searched / 'nas.db'}")
    task = create_task("synthetic-graph", data_dir=DATA_DIR, seed=3, num_nodes=300, num_features=16)
    task.prepare("cpu")
    folders = sorted(p for p in (searched / "exported" / "tiny-supernet").iterdir() if p.is_dir())
    assert folders and len(folders) == len(study.best_trials)
    for folder in folders:
        model, arch = nas.load(folder)
        trial = next(t for t in study.best_trials if t.user_attrs["arch"] == dict(arch))
        # The exported weights are the ones that scored the trial: its own group's.
        assert task.evaluate(model.network.eval(), "val")["accuracy"] == pytest.approx(trial.values[0], abs=1e-6)


@pytest.mark.parametrize(("split_on", "message"), [
    ('["depth"]', "supernet.split_on: 'depth' is not a choice of space 'gnn'; choices: conv,"),
    ('"batch_norm"', "supernet.split_on: must be a list of choice names"),
])
def test_a_bad_split_is_a_one_line_error(tmp_path: Path, split_on: str, message: str) -> None:
    study = few_shot_study(tmp_path, split_on=split_on)
    result = run_nas("train-supernet", str(study), "--no-progress", cwd=tmp_path, env=ENV)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not list(tmp_path.glob("ckpt/*.pt"))
