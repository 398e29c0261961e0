"""Study-file parsing: every malformed input is a ConfigError naming the key path."""

import dataclasses
from pathlib import Path

import pytest

from nas.config import Budget, load_study_file, parse_study
from nas.errors import ConfigError

VALID = {
    "name": "s1",
    "space": {"name": "gnn", "choices": {"conv": ["gcn", "gat"]}},
    "task": {"name": "cora"},
    "objectives": [
        {"metric": "val_accuracy", "direction": "maximize"},
        {"metric": "params", "direction": "minimize"},
    ],
    "sampler": {"name": "nsga2", "params": {"population_size": 8}},
    "evaluator": {"name": "train", "params": {"max_epochs": 50}},
    "budget": {"n_trials": 20, "timeout": 600},
    "seed": 3,
    "n_jobs": 2,
}


def with_(**changes):
    data = {k: v for k, v in VALID.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_valid_study_parses_into_frozen_config():
    config = parse_study(VALID)
    assert config.name == "s1" and config.seed == 3 and config.n_jobs == 2
    assert config.space.params["conv"] == ["gcn", "gat"]
    assert config.directions == ["maximize", "minimize"]
    assert config.budget == Budget(20, 600.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.sampler.params["population_size"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_(colour="red"), "colour: unknown key"),
        (with_(name=None), "name: required"),
        (with_(name="has space"), "name: must be"),
        (with_(objectives=[]), "objectives: must be a non-empty list"),
        (with_(objectives=[{"metric": "a", "direction": "up"}]),
         "objectives[0].direction: 'up' is not allowed; allowed: maximize, minimize"),
        (with_(objectives=[{"metric": "a"}, {"metric": "a"}]), "listed twice"),
        (with_(budget={"n_trials": -5}), "budget.n_trials: must be at least 1"),
        (with_(budget={"timeout": -1}), "budget.timeout: must be a positive number"),
        (with_(budget={}), "budget: give n_trials"),
        (with_(budget={"n_trials": 5, "trials": 3}), "budget.trials: unknown key"),
        (with_(n_jobs=0), "n_jobs: must be at least 1"),
        (with_(seed="x"), "seed: must be an integer"),
        (with_(device="gpu"), "device: must be one of auto, cpu, cuda"),
        (with_(space={"choices": {}}), "space.name: required"),
        (with_(task={"name": "cora", "colour": 1}), "task.colour: unknown key"),
        (with_(storage=""), "storage: must be a SQLAlchemy URL"),
    ],
)
def test_malformed_study_names_the_key(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_study(data)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_toml_is_a_config_error(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[space\nname = "gnn"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_study_file(path)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="study file not found"):
        load_study_file(tmp_path / "nope.toml")


def test_cli_overrides_apply_and_validate():
    config = parse_study(VALID).with_overrides(n_trials=7, study_name="other", n_jobs=1)
    assert config.budget.n_trials == 7 and config.name == "other" and config.n_jobs == 1
    with pytest.raises(ConfigError, match="--n-jobs"):
        parse_study(VALID).with_overrides(n_jobs=0)


def test_effective_config_omits_storage_and_keeps_overrides():
    data = with_(storage="postgresql+psycopg://u:secret@h/db")
    config = parse_study(data).with_overrides(study_name="renamed", n_trials=9)
    again = parse_study(__import__("json").loads(config.to_json()))
    assert again.name == "renamed" and again.budget.n_trials == 9
    assert "secret" not in config.to_json() and again.storage is None


def test_a_space_baseline_preset_is_parsed_and_an_unknown_one_is_named():
    from nas.search.components import check_components

    config = parse_study(with_(space={"name": "gnn", "baseline": "gat"},
                               objectives=[{"metric": "val_accuracy", "direction": "maximize"}],
                               sampler={"name": "tpe"}, evaluator={"name": "train"}))
    assert dict(config.space.params) == {"baseline": "gat"}
    check_components(config)
    bad = dataclasses.replace(config, space=dataclasses.replace(config.space,
                                                                params={"baseline": "gin"}))
    with pytest.raises(ConfigError, match="space.baseline: 'gin' is not a baseline"):
        check_components(bad)


def test_start_from_enqueues_the_named_baselines_as_the_first_trials(tmp_path):
    import optuna

    from nas.search.study import create_or_load_study, storage_for
    from search_spaces import create_space

    data = with_(space={"name": "gnn", "start_from": ["appnp", "gat"]},
                 objectives=[{"metric": "val_accuracy", "direction": "maximize"}],
                 sampler={"name": "tpe"}, evaluator={"name": "train"})
    storage = storage_for(f"sqlite:///{tmp_path / 's.db'}")
    study = create_or_load_study(parse_study(data), storage)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    presets = [create_space("gnn", {"baseline": name}).default() for name in ("appnp", "gat")]
    assert [t.system_attrs["fixed_params"] for t in waiting] == [dict(a) for a in presets]
    with pytest.raises(ConfigError, match="space.start_from: must be a list of baseline names"):
        create_space("gnn", {"start_from": "gcn"})
    with pytest.raises(ConfigError, match="baseline 'gat' is outside the narrowed space"):
        create_space("gnn", {"start_from": ["gat"], "conv": ["gcn"]})
    # A baseline study trains one preset: a warm start left in the file is moot, not an error.
    assert create_space("gnn", {"start_from": ["gat"], "baseline": "gcn"}).start_archs == ()
