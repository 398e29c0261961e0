"""Creating, loading and describing studies in the store.

A study records the study file that launched it (user attr ``nas_config``),
so ``nas worker STUDY`` on another machine needs only the storage URL.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig, parse_study
from nas.errors import ConfigError, StorageError
from nas.store import resolve_url
from nas.store.artifacts import LOCATION_ATTR, default_location

if TYPE_CHECKING:
    import optuna

__all__ = [
    "create_or_load_study",
    "load_study",
    "config_from_study",
    "count_states",
    "storage_for",
]


def storage_for(url: str | None) -> optuna.storages.RDBStorage:
    """Writer storage with heartbeats: a dead worker's trial is failed and retried.

    Interval and grace come from :func:`nas.search.heartbeat.heartbeat_settings`.
    """
    from nas.search.heartbeat import RetryStaleTrial, heartbeat_settings
    from nas.store import open_storage, resolve_url

    settings = heartbeat_settings()
    grace = settings.grace
    if resolve_url(url).startswith("sqlite"):
        # SQLite's CURRENT_TIMESTAMP has one-second resolution: leave room for rounding.
        grace = max(grace, settings.interval + 1.5)
    return open_storage(
        url,
        heartbeat_interval=settings.interval,  # type: ignore[arg-type]  # Optuna takes floats
        grace_period=grace,  # type: ignore[arg-type]
        failed_trial_callback=RetryStaleTrial(settings.max_retries),
    )


def create_or_load_study(config: StudyConfig, storage: Any) -> optuna.Study:
    """The study named in ``config``: created, or loaded when it exists and agrees."""
    import optuna

    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if config.name in names:
        study = optuna.load_study(study_name=config.name, storage=storage)
        _check_compatible(config, study)
        if LOCATION_ATTR not in study.user_attrs:  # a study from before artifact stores
            study.set_user_attr(LOCATION_ATTR, default_location(resolve_url(config.storage),
                                                                config.artifacts))
        return study
    study = optuna.create_study(
        study_name=config.name, storage=storage, directions=config.directions, load_if_exists=True
    )
    attrs = {
        "nas_config": json.loads(config.to_json()),
        "space": config.space.name,
        "task": config.task.name,
        "sampler": config.sampler.name,
        "evaluator": config.evaluator.name,
        "objectives": config.metrics,
        "n_trials": config.budget.n_trials,
        "seed": config.seed,
        "family": _family(config),
        # Decided once, so every worker and exporter finds the same artifact store.
        LOCATION_ATTR: default_location(resolve_url(config.storage), config.artifacts),
    }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    return study


def load_study(name: str, storage: Any) -> optuna.Study:
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        known = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        raise StorageError(
            f"no study named '{name}' in this storage; studies: {', '.join(known) or 'none'}"
        ) from None


def config_from_study(study: optuna.Study) -> StudyConfig:
    raw = study.user_attrs.get("nas_config")
    if not raw:
        raise ConfigError(f"study '{study.study_name}' was not created by nas (no nas_config)")
    return parse_study(raw)


def count_states(study: optuna.Study) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = {s.name: 0 for s in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] += 1
    return counts


def _check_compatible(config: StudyConfig, study: optuna.Study) -> None:
    stored = study.user_attrs
    mine = {
        "space": config.space.name,
        "task": config.task.name,
        "objectives": config.metrics,
    }
    for key, value in mine.items():
        if key in stored and stored[key] != value:
            raise ConfigError(
                f"study '{config.name}' already exists with {key} = {stored[key]!r}, "
                f"the study file says {value!r}; use another name (--study-name)"
            )
    directions = [d.name.lower() for d in study.directions]
    if directions != config.directions:
        raise ConfigError(
            f"study '{config.name}' already exists with directions {directions}, "
            f"the study file says {config.directions}"
        )


def _family(config: StudyConfig) -> str:
    try:
        from nas.tasks import TASKS

        return TASKS.get(config.task.name).family
    except Exception:  # noqa: BLE001 - informational only
        return ""
