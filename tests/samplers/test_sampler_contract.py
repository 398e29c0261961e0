"""Contract of every registered sampler, on the real nb201 space and NAS-Bench-201 table.

Each sampler proposes valid architectures for one and (where it says so) two
objectives, is repeatable for a seed, and resumes a study from a SQLite store
after a restart: a fresh sampler object in a "new process" continues the
stored study. Samplers that keep no state outside the store propose exactly
what an uninterrupted search would have.
"""

from __future__ import annotations

import optuna
import pytest

from nas.evaluators.tabular import lookup
from nas.samplers import SAMPLERS, create_sampler
from nas.tasks import create_task
from search_spaces import create_space

# Samplers whose proposal for trial n depends only on the stored trials, the seed and n.
STATELESS = {"predictor-evolution", "zc-warmstart"}
# Small settings for samplers that compute something before the first trial.
PARAMS = {"zc-warmstart": {"proxies": ["params"], "pool_size": 6, "top_k": 3}}
N_BEFORE, N_AFTER = 9, 6
NAMES = SAMPLERS.names()
MULTI = [n for n in NAMES if SAMPLERS.get(n).multi_objective]


@pytest.fixture(scope="module")
def nb201(data_dir, tmp_path_factory):
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    # Proxy scores are cached across this module's runs (the cache is part of the contract).
    PARAMS["zc-warmstart"]["cache"] = f"sqlite:///{tmp_path_factory.mktemp('zc') / 'scores.db'}"
    return create_space("nb201", {}), task


def objective_for(space, task, multi: bool):
    def objective(trial: optuna.Trial):
        arch = space.validate(space.sample(trial))
        metrics = lookup(task, arch).metrics
        if multi:
            return metrics["val_accuracy"], metrics["edgegpu_latency"]
        return metrics["val_accuracy"]

    return objective


def run(name, nb201, n, multi=False, storage=None, study_name="s", seed=3):
    space, task = nb201
    directions = ["maximize", "minimize"] if multi else ["maximize"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = create_sampler(name, dict(PARAMS.get(name, {})), seed=seed, directions=directions,
                             space=space, task=task)
    study = optuna.create_study(directions=directions, sampler=sampler, storage=storage,
                                study_name=study_name, load_if_exists=True)
    study.optimize(objective_for(space, task, multi), n_trials=n)
    return study


@pytest.mark.parametrize("name", NAMES)
def test_proposes_valid_architectures_and_is_repeatable(name, nb201):
    space, _ = nb201
    first = run(name, nb201, N_BEFORE + N_AFTER)
    again = run(name, nb201, N_BEFORE + N_AFTER)
    for trial in first.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        space.validate(trial.params)
    if name != "gp":  # GPSampler's optimiser is not bit-repeatable across runs
        assert [t.params for t in first.trials] == [t.params for t in again.trials]


@pytest.mark.parametrize("name", MULTI)
def test_multi_objective_proposals_are_valid(name, nb201):
    space, _ = nb201
    study = run(name, nb201, N_BEFORE + N_AFTER, multi=True)
    assert len(study.trials) == N_BEFORE + N_AFTER
    for trial in study.trials:
        assert len(trial.values) == 2
        space.validate(trial.params)
    assert study.best_trials


@pytest.mark.parametrize("name", NAMES)
def test_resumes_from_the_store_after_a_restart(name, nb201, tmp_path):
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    run(name, nb201, N_BEFORE, storage=url)
    # A restart: new storage handle, new sampler object, same study in the file.
    resumed = run(name, nb201, N_AFTER, storage=optuna.storages.RDBStorage(url))
    trials = resumed.trials
    assert [t.number for t in trials] == list(range(N_BEFORE + N_AFTER))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    if name in STATELESS:
        straight = run(name, nb201, N_BEFORE + N_AFTER)
        assert [t.params for t in trials] == [t.params for t in straight.trials]
