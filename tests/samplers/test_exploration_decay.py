"""Predictor samplers with a trial budget: exploration falls to 0 at the last trial
(``exploration_decay``, on by default); ``exploration_decay = false`` keeps it constant.

On the real NAS-Bench-201 table, with the study's ``n_trials`` reaching the
sampler through ``create_sampler(budget=...)`` and the search worker.
"""

from __future__ import annotations

import uuid

import optuna
import pytest

from nas.config import parse_study
from nas.evaluators.tabular import lookup
from nas.samplers import create_sampler
from nas.search.study import create_or_load_study, storage_for
from nas.search.worker import build_worker
from nas.tasks import create_task
from search_spaces import create_space

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


@pytest.fixture(scope="module")
def history(data_dir):
    """Twelve random trials on CIFAR-10 validation accuracy, as frozen trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = create_space("nb201", {})
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: lookup(task, space.sample(t)).metrics["val_accuracy"], n_trials=12)
    return space, study.trials


def next_arch(space, trials, **params) -> dict:
    """The architecture ``predictor-graph`` proposes after ``trials`` (10 start-up trials)."""
    budget = params.pop("budget", None)
    sampler = create_sampler("predictor-graph", params, seed=0, directions=["maximize"],
                             space=space, budget=budget)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trials(trials)
    return dict(space.sample(study.ask()))


def test_past_the_budget_the_proposal_is_pure_exploitation_by_default(history):
    space, trials = history
    greedy = next_arch(space, trials, exploration=0.0)
    assert next_arch(space, trials, budget=12) == greedy
    assert next_arch(space, trials, budget=12, exploration_decay=True) == greedy
    # Without a budget, with the decay turned off, or early in the budget,
    # exploration stays at its value.
    constant = next_arch(space, trials)
    assert next_arch(space, trials, budget=12, exploration_decay=False) == constant
    assert next_arch(space, trials, budget=10_000) == constant
    assert constant != greedy  # the test would show nothing if exploring changed nothing here


@pytest.mark.parametrize("name", ["predictor-graph", "predictor-evolution"])
def test_the_schedule_runs_linearly_from_the_start_up_to_the_budget(history, name):
    space, _ = history
    sampler = create_sampler(name, {"n_startup_trials": 10}, seed=0, directions=["maximize"],
                             space=space, budget=50)
    assert sampler.budget == 50 and sampler.exploration_decay  # on by default
    shares = [sampler._exploration_left(n) for n in (0, 10, 30, 49, 50, 60)]
    assert shares == pytest.approx([1.0, 1.0, 0.5, 1 / 40, 0.0, 0.0])
    constant = create_sampler(name, {"exploration_decay": False}, seed=0,
                              directions=["maximize"], space=space, budget=50)
    assert [constant._exploration_left(n) for n in (10, 49, 60)] == [1.0, 1.0, 1.0]
    unbounded = create_sampler(name, {}, seed=0, directions=["maximize"], space=space)
    assert unbounded._exploration_left(49) == 1.0  # no budget, nothing to count down to
    assert create_sampler("random", {}, seed=0, directions=["maximize"], budget=50) is not None


def test_the_search_worker_hands_the_study_budget_to_the_sampler(data_dir, tmp_path):
    config = parse_study({
        "name": f"decay-{uuid.uuid4().hex[:8]}",
        "seed": 0,
        "device": "cpu",
        "space": {"name": "nb201"},
        "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": "predictor-graph", "params": {}},
        "evaluator": {"name": "tabular"},
        "budget": {"n_trials": 25},
    })
    storage = storage_for(f"sqlite:///{tmp_path / 'study.db'}")
    create_or_load_study(config, storage)
    assert build_worker(config, storage).study.sampler.budget == 25
