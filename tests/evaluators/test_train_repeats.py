"""The ``train`` evaluator's ``repeats``: a trial scored by the mean of several seeds (real Cora)."""

from __future__ import annotations

import optuna
import pytest

from nas.errors import ConfigError
from nas.evaluators.train import TrainEvaluator
from nas.tasks import create_task
from search_spaces import create_space


@pytest.fixture(scope="module")
def cora(data_dir):
    return create_task("cora", data_dir=data_dir)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def evaluator(cora, **params):
    space = create_space("gnn")
    return TrainEvaluator(space, cora, {"epochs": 15, "latency_repeats": 1, **params}, seed=3)


def trial():
    return optuna.create_study(direction="maximize").ask()


def test_repeats_score_a_trial_by_the_mean_validation_of_different_seeds(cora):
    space = create_space("gnn")
    arch = space.validate(space.baselines["gcn"])
    single = evaluator(cora).evaluate(arch, trial())
    twice = evaluator(cora, repeats=2).evaluate(arch, trial())
    first, second = twice.attrs["repeat_val_accuracy"]
    # The first run is the single run (same seed); the second is another seed's model.
    assert first == pytest.approx(single.metrics["val_accuracy"])
    assert second != pytest.approx(first)
    assert twice.metrics["val_accuracy"] == pytest.approx((first + second) / 2)
    assert "repeat_val_accuracy" not in single.attrs


def test_a_retraining_outside_a_trial_is_one_run_per_seed(cora):
    # `nas bench family` and the export's re-training loop over seeds: one run each, so the
    # spread they report is the spread of single runs.
    space = create_space("gnn")
    arch = space.validate(space.baselines["gcn"])
    once = evaluator(cora).evaluate(arch)
    repeated = evaluator(cora, repeats=2).evaluate(arch)
    assert repeated.metrics["val_accuracy"] == pytest.approx(once.metrics["val_accuracy"])
    assert "repeat_val_accuracy" not in repeated.attrs


def test_repeats_must_be_a_positive_integer(cora):
    with pytest.raises(ConfigError, match="repeats"):
        evaluator(cora, repeats=0)
    with pytest.raises(ConfigError, match="repeats"):
        evaluator(cora, repeats=1.5)
