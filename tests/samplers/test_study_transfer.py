"""``warm_start``: a new study starts from what earlier studies over the same space learned."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

import nas
from nas.errors import ConfigError, NasError
from nas.samplers import prior_trials
from nas.samplers._predictors import fit_ensemble
from nas.samplers._prior import PriorMean
from nas.store import WARM_START_ATTR


def study(name: str, task: str, sampler: str, n_trials: int, data_dir, **extra) -> dict:
    return {
        "name": name, "seed": 0, "space": {"name": "nb201"},
        "task": {"name": task, "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": sampler}, "evaluator": {"name": "tabular"},
        "budget": {"n_trials": n_trials}, **extra,
    }


@pytest.fixture
def cifar10_study(sqlite_url, data_dir) -> optuna.Study:
    nas.run(study("c10", "nb201-cifar10", "predictor-graph", 25, data_dir), storage=sqlite_url)
    return optuna.load_study(study_name="c10", storage=sqlite_url)


def best_archs(earlier: optuna.Study, k: int) -> list[dict]:
    done = sorted((t for t in earlier.trials if t.state.name == "COMPLETE"), key=lambda t: -t.value)
    return [t.params for t in done[:k]]


def test_a_warm_study_opens_with_the_earlier_best_and_records_its_source(
        cifar10_study, sqlite_url, data_dir):
    nas.run(study("c100", "nb201-cifar100", "predictor-graph", 8, data_dir, warm_start=["c10"]),
            storage=sqlite_url)
    warm = optuna.load_study(study_name="c100", storage=sqlite_url)
    assert warm.user_attrs[WARM_START_ATTR] == {"c10": 25}
    trials = sorted(warm.trials, key=lambda t: t.number)
    # predictor-graph proposes the prior's three best first (in canonical form: the
    # CIFAR-10 study's own trials are stored canonical too), then follows its predictor.
    assert [t.params for t in trials[:3]] == best_archs(cifar10_study, 3)
    assert sum(t.state.name == "COMPLETE" for t in trials) == 8
    # The same study file cold: its first trial is a random architecture, not the prior's best.
    nas.run(study("c100-cold", "nb201-cifar100", "predictor-graph", 3, data_dir), storage=sqlite_url)
    cold = optuna.load_study(study_name="c100-cold", storage=sqlite_url)
    assert WARM_START_ATTR not in cold.user_attrs
    assert cold.trials[0].params not in best_archs(cifar10_study, 3)


def test_a_sampler_without_a_prior_gets_the_earlier_best_as_its_first_trials(
        cifar10_study, sqlite_url, data_dir):
    nas.run(study("c100-tpe", "nb201-cifar100", "tpe", 5, data_dir, warm_start=["c10"]),
            storage=sqlite_url)
    warm = optuna.load_study(study_name="c100-tpe", storage=sqlite_url)
    first = [t.params for t in sorted(warm.trials, key=lambda t: t.number)[:3]]
    assert first == best_archs(cifar10_study, 3)


def test_bad_warm_starts_are_one_line_errors_and_create_no_study(
        cifar10_study, sqlite_url, data_dir):
    with pytest.raises(NasError, match=r"^warm_start: no study named 'nope' in this storage; "
                                       r"studies: c10$"):
        nas.run(study("c100", "nb201-cifar100", "tpe", 5, data_dir, warm_start=["nope"]),
                storage=sqlite_url)
    gnn = study("gnn-cora", "cora", "tpe", 5, data_dir, warm_start=["c10"],
                space={"name": "gnn"}, evaluator={"name": "train", "params": {"epochs": 1}})
    gnn["objectives"] = [{"metric": "val_accuracy", "direction": "maximize"}]
    with pytest.raises(NasError, match="warm_start: study 'c10' searched space 'nb201', this "
                                       "study searches 'gnn'; a warm start needs the same space"):
        nas.run(gnn, storage=sqlite_url)
    names = {s.study_name for s in optuna.get_all_study_summaries(sqlite_url)}
    assert names == {"c10"}
    with pytest.raises(ConfigError, match="warm_start: 'c100' is this study"):
        nas.run(study("c100", "nb201-cifar100", "tpe", 5, data_dir, warm_start=["c100"]),
                storage=sqlite_url)


def test_the_prior_mean_follows_a_related_task_and_ignores_a_reversed_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    source = x[:, 0] + 0.1 * rng.normal(size=200)
    prior = fit_ensemble("gp", x, np.array([t.score for t in prior_trials(
        ({"i": i}, v) for i, v in enumerate(source))]), 1, rng)
    few = np.arange(8)
    related = PriorMean(prior, lambda a, b: fit_ensemble("gp", a, b, 1, rng)).fit(x[few], x[few, 0])
    assert related.weight_ > 0.5
    mean, _ = related.predict(x)
    assert np.corrcoef(mean, x[:, 0])[0, 1] > 0.9  # 8 labels, yet the whole order is right
    reversed_ = PriorMean(prior, lambda a, b: fit_ensemble("gp", a, b, 1, rng)).fit(
        x[few], -x[few, 0])
    assert reversed_.weight_ == 0.0  # a prior that ranks backwards is not inverted, it is dropped

