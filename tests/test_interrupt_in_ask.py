"""Ctrl-C while a worker asks for its next trial (Optuna stores it RUNNING, then samples)
closes that trial as interrupted: nothing stays RUNNING for a heartbeat to find later."""

from __future__ import annotations

import os
import signal

import optuna
import pytest
from optuna.trial import TrialState

from nas.config import parse_study
from nas.search.study import create_or_load_study, storage_for
from nas.search.worker import build_worker, run_worker_loop

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


class InterruptedWhileSampling(optuna.samplers.RandomSampler):
    """Sends this process SIGINT from inside ``ask`` (after Optuna stored the new trial as
    RUNNING, before ask returns it), once two trials have completed."""

    def before_trial(self, study, trial):
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= 2:
            os.kill(os.getpid(), signal.SIGINT)
        super().before_trial(study, trial)


@pytest.fixture
def default_ctrl_c():
    """Python's own SIGINT handler (KeyboardInterrupt) for the test: an earlier test in the
    same worker process may have left another one installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_inside_ask_closes_the_new_trial(sqlite_url, data_dir, default_ctrl_c):
    config = parse_study({
        "name": "ask-cut", "space": {"name": "nb201"},
        "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": "random"}, "evaluator": {"name": "tabular"},
        "budget": {"n_trials": 5},
    })
    storage = storage_for(sqlite_url)
    create_or_load_study(config, storage)
    setup = build_worker(config, storage)
    setup.study.sampler = InterruptedWhileSampling(seed=0)
    with pytest.raises(KeyboardInterrupt):
        run_worker_loop(setup, 5)
    trials = optuna.load_study(study_name="ask-cut", storage=sqlite_url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    assert trials[-1].user_attrs["nas_interrupted"]
