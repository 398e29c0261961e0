"""The ``supernet`` evaluator: inherited weights scored on validation data, inside a real search."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nas.config import load_study_file
from nas.errors import CheckpointError
from nas.evaluators import EVALUATORS
from nas.metrics import count_params
from nas.supernet.from_study import load_supernet, train_supernet
from nas.tasks import create_task
from search_spaces import create_space
from supernets.sampling import random_arch
from tests.conftest import DATA_DIR, run_nas
from tests.supernets.test_training import write_study


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A study folder whose supernet was trained (2 epochs) by ``train_supernet``."""
    folder = tmp_path_factory.mktemp("study")
    study = write_study(folder, epochs=2)
    config = load_study_file(study).with_overrides(
        data_dir=DATA_DIR, storage=f"sqlite:///{folder / 'nas.db'}", device="cpu")
    # Where `nas search` run in `folder` looks ("ckpt" is relative to the working directory).
    config = replace(config, supernet=dict(config.supernet, checkpoint_dir=str(folder / "ckpt")))
    run = train_supernet(config, progress=False)
    assert run.epochs == 2 and run.checkpoint.is_file()
    return study, run.checkpoint


def make_evaluator(config, params):
    space = create_space(config.space.name, dict(config.space.params))
    task = create_task(config.task.name, seed=config.seed, **dict(config.task.params))
    task.prepare("cpu")
    return space, task, EVALUATORS.get("supernet")(space, task, params, device="cpu", seed=0)


def test_scores_are_the_extracted_models_validation_metrics(trained) -> None:
    study, checkpoint = trained
    config = load_study_file(study).with_overrides(data_dir=DATA_DIR)
    space, task, evaluator = make_evaluator(config, {"checkpoint": str(checkpoint),
                                                     "bn_batches": 1, "latency_repeats": 1})
    evaluator.setup()
    rng = np.random.default_rng(0)
    for arch in [random_arch(space, rng) for _ in range(3)]:
        evaluation = evaluator.evaluate(arch)
        assert evaluation.fidelity == "supernet"
        # The shared BN statistics now hold this subnet's recalibrated ones.
        model = evaluator.supernet_.extract(arch)
        standalone = task.evaluate(model, "val")
        assert evaluation.metrics["val_accuracy"] == pytest.approx(standalone["accuracy"], abs=1e-6)
        assert evaluation.metrics["val_loss"] == pytest.approx(standalone["loss"], rel=1e-5)
        assert evaluation.metrics["params"] == count_params(model)
        assert evaluation.metrics["latency_ms"] > 0
        # More splits: each evaluated with the same recalibrated statistics.
        both = evaluator.score(evaluator.supernet_, arch, ("val", "test"))
        assert both["val_accuracy"] == evaluation.metrics["val_accuracy"]
        test = task.evaluate(evaluator.supernet_.extract(arch), "test")
        assert both["test_accuracy"] == pytest.approx(test["accuracy"], abs=1e-6)
        assert both["test_loss"] == pytest.approx(test["loss"], rel=1e-5)
    # Loaded once per worker: the same object serves every architecture.
    assert evaluator.supernet_ is evaluator.load(checkpoint)


def test_a_bad_evaluator_checkpoint_fails_at_setup(trained, tmp_path: Path) -> None:
    study, _ = trained
    config = load_study_file(study).with_overrides(data_dir=DATA_DIR)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    _, _, evaluator = make_evaluator(config, {"checkpoint": str(broken)})
    with pytest.raises(CheckpointError, match="corrupt or unreadable"):
        evaluator.setup()


def test_a_supernet_search_runs_end_to_end_and_prints_the_front(trained) -> None:
    study, _ = trained
    result = run_nas("search", str(study), "--no-progress", cwd=study.parent)
    assert result.returncode == 0, result.stderr
    assert "6 complete, 0 failed trials" in result.stdout
    assert "Pareto front" in result.stdout and "supernet" in result.stdout  # the fidelity column


def test_a_search_without_a_trained_supernet_stops_with_one_line(tmp_path: Path) -> None:
    study = write_study(tmp_path / "untrained")
    result = run_nas("search", str(study), "--no-progress", cwd=study.parent)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: evaluator 'supernet': no "
                                                             "checkpoint of study 'tiny-supernet'")


def test_a_checkpoint_of_another_space_is_refused(trained) -> None:
    _, checkpoint = trained
    task = create_task("cifar10-subset", data_dir=DATA_DIR, val_size=100, train_size=100)
    task.prepare("cpu")
    with pytest.raises(CheckpointError, match="for space 'gnn', not 'nb201'"):
        load_supernet(checkpoint, create_space("nb201"), task)
