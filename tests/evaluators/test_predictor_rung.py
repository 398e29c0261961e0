"""The ``predictor`` evaluator: a model of the study's own results as a rung of the ladder."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

import nas
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators.tabular import lookup
from nas.tasks import create_task
from search_spaces import create_space


def ladder_study(data_dir, n_trials: int, **predictor_params) -> dict:
    return {
        "name": "nb201-predicted", "seed": 0, "space": {"name": "nb201"},
        "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": "random"},
        "evaluator": {"name": "ladder", "params": {"rungs": [
            {"evaluator": "predictor", "params": {"min_labels": 8, **predictor_params}, "score": "predicted_rank",
             "top_fraction": 0.3, "min_trials": 4},
            {"evaluator": "tabular"},
        ]}},
        "budget": {"n_trials": n_trials},
    }


def test_the_predictor_rung_stops_the_architectures_the_table_rates_worse(sqlite_url, data_dir):
    nas.run(ladder_study(data_dir, 20), storage=sqlite_url)
    study = optuna.load_study(study_name="nb201-predicted", storage=sqlite_url)
    trials = sorted(study.trials, key=lambda t: t.number)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    # (a re-proposed architecture is closed PRUNED too, unevaluated: not the rung's doing)
    pruned = [t for t in trials if t.state.name == "PRUNED" and "ladder_scores" in t.user_attrs]
    assert len(complete) == 20 and len(pruned) >= 15
    # Until eight trials complete the predictor knows nothing and promotes every candidate.
    eighth = complete[7].number
    assert all(t.state.name == "COMPLETE" for t in trials if t.number <= eighth)
    assert all(t.user_attrs["ladder_scores"]["0"] == 1.0 for t in trials if t.number <= eighth)
    # Afterwards it trains the candidates it predicts best: judged by the table itself,
    # the ones it stopped are clearly worse than the ones it let through.
    task = create_task("nb201-cifar10", data_dir=str(data_dir))
    task.prepare("cpu")
    space = create_space("nb201")

    def table_accuracy(t: optuna.trial.FrozenTrial) -> float:
        return lookup(task, space.validate(t.params)).metrics["val_accuracy"]

    let_through = [table_accuracy(t) for t in complete if t.number > eighth]
    stopped = [table_accuracy(t) for t in pruned]
    assert np.median(let_through) > np.median(stopped) + 0.02
    assert all(0.0 <= t.user_attrs["ladder_scores"]["0"] <= 1.0 for t in pruned)
    assert all(t.user_attrs["predictor_labels"] >= 8 for t in pruned)


def test_proxy_columns_come_from_the_proxy_cache_and_still_stop_the_worse(sqlite_url, data_dir):
    import sqlalchemy

    nas.run(ladder_study(data_dir, 20, proxies=["synflow", "flops"]), storage=sqlite_url)
    study = optuna.load_study(study_name="nb201-predicted", storage=sqlite_url)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    judged = [t for t in study.trials if t.user_attrs.get("predictor_labels", 0) >= 8]
    assert len(complete) == 20 and len(judged) >= 15
    assert all(t.user_attrs["predictor_proxies"] == ["synflow", "flops"] for t in judged)
    # every labelled and every judged architecture was scored once, into the study's own store
    with sqlalchemy.create_engine(sqlite_url).connect() as connection:
        cached = connection.execute(sqlalchemy.text(
            "SELECT COUNT(DISTINCT arch_key) FROM nas_proxy_cache WHERE proxy = 'synflow'")).scalar()
    assert cached >= len({t.user_attrs["arch_key"] for t in judged})
    task = create_task("nb201-cifar10", data_dir=str(data_dir))
    task.prepare("cpu")
    space = create_space("nb201")
    accuracy = {t.number: lookup(task, space.validate(t.params)).metrics["val_accuracy"]
                for t in judged}
    let_through = [accuracy[t.number] for t in judged if t.state.name == "COMPLETE"]
    stopped = [accuracy[t.number] for t in judged if t.state.name == "PRUNED"]
    assert np.median(let_through) > np.median(stopped) + 0.02


@pytest.mark.parametrize("params, message", [
    ({"model": "xgb"}, "evaluator.params.model: unknown predictor model 'xgb'; allowed: "
                       "pairwise, gbm, rf, gp"),
    ({"min_labels": 1}, "evaluator.params.min_labels: must be a whole number of 2 or more, got 1"),
    ({"labels": 3}, "evaluator.params.labels: unknown parameter for 'predictor'; allowed: "
                    "model, min_labels, proxies, ensemble, batch_size, batch_seed, cache"),
    ({"ensemble": "best"}, "evaluator.params.ensemble: unknown 'best'; allowed: "
                           "vkdnw_meco_jacob_flops, az_nas"),
    ({"proxies": 3}, "evaluator.params.proxies: a proxy name or a list of names, got 3"),
])
def test_bad_parameters_are_one_line_errors(params, message, data_dir):
    task = create_task("nb201-cifar10", data_dir=str(data_dir))
    with pytest.raises(ConfigError) as error:
        EVALUATORS.get("predictor")(create_space("nb201"), task, params)
    assert str(error.value) == message
