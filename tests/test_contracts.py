"""Registry-level contracts: every plugin in SPACES, SAMPLERS, TASKS and EVALUATORS keeps them.

Each test is parametrized over a registry's names (timm-style), so a plugin
added tomorrow is tested the day it is registered. The checks are cheap and
about the contract a study file relies on; heavier per-family checks live
next to the plugins (``tests/search_spaces/test_space_contract.py`` builds and
trains every space, ``tests/samplers/`` runs every sampler on NAS-Bench-201). The checks
``nas check-plugin`` also runs on a user's plugin are called from ``nas/plugin_contract.py``,
the one copy; the asserts here are what the built-ins promise beyond them.
"""

from __future__ import annotations

import inspect
import json
import math

import optuna
import pytest

from nas.architecture import Architecture
from nas.config import parse_study
from nas.errors import ConfigError, DataError, InvalidArchitecture, NasError, NotApplicable
from nas.evaluators import EVALUATORS
from nas.plugin_contract import (
    check_example_batch,
    check_refuses_unknown_choice,
    check_round_trip,
    check_task_spec,
    check_train_batch,
    sample_architectures,
)
from nas.samplers import SAMPLERS, check_sampler
from nas.tasks import TASKS, create_task
from search_spaces import SPACES, Categorical, create_space
from tests.conftest import DATA_DIR

optuna.logging.set_verbosity(optuna.logging.WARNING)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- spaces -------------------------------------------------------------------

@pytest.mark.parametrize("name", SPACES.names())
def test_space_samples_architectures_that_validate_and_round_trip(name):
    space = create_space(name)
    assert space.name == name
    archs = [space.validate(space.default()), *sample_architectures(space, 8)]
    check_round_trip(space, archs)
    for arch in archs:
        assert set(arch) == set(space.choices())
        assert Architecture(dict(reversed(list(arch.items())))).key == arch.key
    assert len({a.key for a in archs}) > 1, "sampling gave one architecture only"


@pytest.mark.parametrize("name", SPACES.names())
def test_space_refuses_bad_architectures_naming_the_field(name):
    space = create_space(name)
    check_refuses_unknown_choice(space)
    arch = space.default().to_dict()
    first = next(iter(arch))
    with pytest.raises(InvalidArchitecture, match=first):
        space.validate({k: v for k, v in arch.items() if k != first})
    categorical = [n for n, c in space.choices().items() if isinstance(c, Categorical)]
    if categorical:
        with pytest.raises(InvalidArchitecture, match=f"{categorical[0]}.*allowed"):
            space.validate({**arch, categorical[0]: "not-a-value"})


@pytest.mark.parametrize("name", SPACES.names())
def test_space_overrides_narrow_it_and_unknown_overrides_are_refused(name):
    wide = [(n, c) for n, c in create_space(name).choices().items()
            if isinstance(c, Categorical) and len(c.values) > 1]
    if wide:
        choice, spec = wide[0]
        narrowed = create_space(name, {choice: [spec.values[-1]]})
        assert {a[choice] for a in sample_architectures(narrowed, 5)} == {spec.values[-1]}
        with pytest.raises(ConfigError, match=f"space.choices.{choice}: 'not-a-value' is not allowed"):
            create_space(name, {choice: ["not-a-value"]})
    with pytest.raises(ConfigError, match="space.choices.no_such_choice: unknown choice"):
        create_space(name, {"no_such_choice": [1]})


# -- samplers -----------------------------------------------------------------

#: small settings for parameters many samplers share, so a few trials reach past the start-up phase
SMALL = {"n_startup_trials": 3, "population_size": 4, "sample_size": 2, "pool_size": 3,
         "top_k": 1}


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_sampler_declares_its_params_and_refuses_what_it_cannot_do(name):
    plugin = SAMPLERS.get(name)
    assert plugin.summary, f"sampler '{name}' needs a one-line docstring (cite the paper)"
    assert plugin.single_objective or plugin.multi_objective
    for param, default in plugin.params().items():
        assert default is not inspect.Parameter.empty, f"{name}: '{param}' needs a default"
    with pytest.raises(ConfigError, match=f"sampler.params.bogus: unknown parameter for '{name}'"):
        check_sampler(name, {"bogus": 1}, 1 if plugin.single_objective else 2)
    if not plugin.multi_objective:
        with pytest.raises(ConfigError, match="sampler.name: .* single objective only"):
            check_sampler(name, {}, 2)
    if not plugin.single_objective:
        with pytest.raises(ConfigError, match="sampler.name"):
            check_sampler(name, {}, 1)


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_sampler_drives_the_search_loop_to_its_budget(name, tmp_path):
    """Through ``nas.search.run`` (study file, SQLite store, worker loop) on NAS-Bench-201.

    Two objectives where the sampler claims them (the harder case), else one;
    tests/samplers/ runs every sampler both ways outside the search loop.
    """
    from nas.search import run

    plugin = SAMPLERS.get(name)
    objectives = 2 if plugin.multi_objective else 1
    params = {k: v for k, v in SMALL.items() if k in plugin.params()}
    study = {
        "name": "contract", "seed": 1, "device": "cpu",
        "space": "nb201", "task": {"name": "nb201-cifar10", "data_dir": str(DATA_DIR)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"},
                       {"metric": "params", "direction": "minimize"}][:objectives],
        "sampler": {"name": name, "params": params}, "evaluator": "tabular",
        "budget": {"n_trials": 6},
    }
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    result = run(parse_study(study).with_overrides(storage=url), progress=False)
    assert result.n_complete == 6 and result.n_failed == 0
    trials = optuna.load_study(study_name="contract", storage=url).get_trials()
    space = create_space("nb201")
    for trial in trials:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert space.validate(trial.user_attrs["arch"]) == Architecture(trial.params)
            assert len(trial.values) == objectives


# -- tasks --------------------------------------------------------------------

#: tasks that read the user's files, pointed at the offline data (others need no params)
FILE_TASK_PARAMS = {
    "image-classification": {"path": str(DATA_DIR / "cifar10" / "cifar10_test_2000.npz")},
    "text": {"path": str(DATA_DIR / "text" / "tinyshakespeare.txt")},
}


def prepared(name: str):
    task = create_task(name, data_dir=DATA_DIR, seed=0, **FILE_TASK_PARAMS.get(name, {}))
    try:
        spec = task.prepare("cpu")
    except DataError as exc:
        pytest.skip(f"data for task '{name}' is not here: {exc}")
    return task, spec


@pytest.mark.parametrize("name", TASKS.names())
def test_task_prepares_and_gives_a_seeded_example_batch(name):
    import torch

    task, spec = prepared(name)
    assert task.name == name and task.spec == spec
    check_task_spec(TASKS.get(name), spec)
    check_example_batch(task, spec)
    batch = task.example_batch(batch_size=4, seed=0)
    logits = torch.zeros(*batch.targets.shape, spec.num_classes)
    selected_logits, targets = batch.selected(logits)
    assert selected_logits.shape == (len(targets), spec.num_classes) and len(targets) > 0


@pytest.mark.parametrize("name", TASKS.names())
def test_task_trains_in_batches_or_says_it_cannot(name):
    task, spec = prepared(name)
    try:
        check_train_batch(task, spec)
    except NotApplicable as exc:
        assert name in str(exc)


# -- evaluators ---------------------------------------------------------------

#: cheap (space, task) pairs tried in order until an evaluator accepts one
PAIRS = [("gnn", "synthetic-graph"), ("nb201", "nb201-cifar10"), ("charlm", "synthetic-seq")]
#: small settings for parameters evaluators commonly take
CHEAP = {"epochs": 1, "patience": 1, "save_weights": False, "latency_repeats": 1}


def accepted_pairing(cls):
    """The first cheap pairing ``cls`` accepts, and the cheap params it takes."""
    refusals: list[str] = []
    for space_name, task_name in PAIRS:
        if task_name not in TASKS or space_name not in SPACES:
            continue
        space = create_space(space_name)
        task, _ = prepared(task_name)
        params = dict(CHEAP)
        while True:
            try:
                evaluator = cls(space, task, params, device="cpu", seed=0)
                evaluator.setup()
                return evaluator, params
            except ConfigError as exc:
                unknown = [k for k in params if f"evaluator.params.{k}" in str(exc)]
                if not unknown:
                    refusals.append(str(exc))
                    break  # this evaluator does not take this pairing
                params.pop(unknown[0])
    assert all(r.strip() and "\n" not in r.strip() for r in refusals), refusals
    needs = [r for r in refusals if r.startswith("evaluator.params.")]
    if needs:  # a composite (the ladder) must be told its parts: it said which, in one line
        pytest.skip(f"'{cls.name}' needs parameters no generic study gives: {needs[0]}")
    pytest.fail(f"evaluator '{cls.name}' accepts none of the pairings {PAIRS}: {refusals}")


@pytest.mark.parametrize("name", EVALUATORS.names())
def test_evaluator_is_constructible_and_rejects_unknown_params(name):
    cls = EVALUATORS.get(name)
    assert cls.name == name
    # Empty only for composite evaluators (a ladder measures what its rungs measure).
    assert isinstance(cls.provides, tuple) and all(isinstance(m, str) for m in cls.provides)
    evaluator, params = accepted_pairing(cls)
    with pytest.raises(ConfigError, match="evaluator.params.no_such_param"):
        bad = cls(evaluator.space, evaluator.task, {**params, "no_such_param": 1},
                  device="cpu", seed=0)
        bad.setup()


@pytest.mark.parametrize("name", EVALUATORS.names())
def test_evaluator_measures_what_it_provides_or_says_what_is_missing(name):
    cls = EVALUATORS.get(name)
    evaluator, _ = accepted_pairing(cls)
    arch = evaluator.space.default()
    try:
        evaluation = evaluator.evaluate(arch)
    except NasError as exc:  # e.g. a supernet evaluator with no trained checkpoint yet
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    assert evaluation.fidelity
    measured = set(evaluation.metrics) & set(cls.provides or evaluation.metrics)
    assert measured, f"'{name}' measured none of the metrics it provides"
    assert all(math.isfinite(float(evaluation.metrics[m])) for m in measured)
    json.dumps(dict(evaluation.attrs), default=str)
