"""The multi-fidelity ladder: a proxy for every candidate, the table for the best share."""

from __future__ import annotations

import optuna
import pytest

from nas.config import parse_study
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.search import run
from nas.tasks import create_task
from search_spaces import create_space

RUNGS = [
    {"evaluator": "proxy", "params": {"proxies": ["params"], "cache": "none"},
     "score": "proxy_score", "top_fraction": 0.5, "min_trials": 3},
    {"evaluator": "tabular"},
]


def test_candidates_climb_only_when_in_the_top_share_and_record_each_fidelity(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    config = parse_study({
        "name": "ladder", "seed": 0, "storage": url, "device": "cpu",
        "space": {"name": "nb201"}, "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": "random"},
        "evaluator": {"name": "ladder", "params": {"rungs": RUNGS}},
        "budget": {"n_trials": 6},
    })
    run(config, progress=False)
    trials = sorted(optuna.load_study(study_name="ladder", storage=url).trials,
                    key=lambda t: t.number)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(complete) == 6 and pruned, "some candidates must stop at the proxy rung"
    for t in complete:
        assert t.user_attrs["ladder_rung"] == 1
        assert t.user_attrs["fidelity_of"]["val_accuracy"] == "tabular"
        assert t.user_attrs["fidelity_of"]["proxy_score"] == "proxy"
    for t in pruned:
        assert t.user_attrs["ladder_rung"] == 0
        assert t.user_attrs["fidelity_of"] == {"proxy_score": "proxy"}
        assert "val_accuracy" not in t.user_attrs["metrics"]
    # From the fourth candidate on, only those in the top half of earlier proxy scores climb.
    for t in trials[3:]:
        earlier = sorted(o.user_attrs["ladder_scores"]["0"] for o in trials[: t.number])
        score = t.user_attrs["ladder_scores"]["0"]
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert score >= earlier[(len(earlier) - 1) // 2]
        else:
            assert score < earlier[len(earlier) // 2]


@pytest.mark.parametrize("rungs, message", [
    ([], "rungs: a non-empty list"),
    ([{"evaluator": "proxy", "params": {"proxies": ["params"]}}, {"evaluator": "tabular"}],
     r"rungs\[0\].score: required"),
    ([{"evaluator": "tabular", "score": "val_accuracy", "top_fraction": 2}, {"evaluator": "tabular"}],
     r"rungs\[0\].top_fraction"),
    ([{"evaluator": "tabular", "colour": 1}], r"rungs\[0\].colour: unknown key"),
    ([{"evaluator": "nope"}], r"rungs\[0\].evaluator"),
])
def test_bad_rungs_are_named(rungs, message, data_dir):
    task = create_task("nb201-cifar10", data_dir=data_dir)
    with pytest.raises(ConfigError, match=message):
        EVALUATORS.get("ladder")(create_space("nb201", {}), task, {"rungs": rungs})
