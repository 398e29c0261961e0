"""Creating, loading and describing studies in the store.

A study records the study file that launched it (user attr ``nas_config``),
so ``nas worker STUDY`` on another machine needs only the storage URL.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig
from nas.config import config_from_study as parsed_config_from_study
from nas.dominance import NUM_CLASSES_ATTR
from nas.errors import ConfigError, StorageError
from nas.search.heartbeat import heartbeat_settings
from nas.store import RetryStaleTrial, open_storage, resolve_url
from nas.store.artifacts import LOCATION_ATTR, default_location

if TYPE_CHECKING:
    import optuna

    from nas.store import StudyStorage

__all__ = [
    "create_or_load_study",
    "load_study",
    "config_from_study",
    "storage_for",
]


def storage_for(url: str | None) -> StudyStorage:
    """Writer storage with heartbeats: a dead worker's trial is failed and retried.

    Interval and grace come from :func:`nas.search.heartbeat.heartbeat_settings`.
    """
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


def create_or_load_study(config: StudyConfig, storage: Any, task: Any = None,
                         prior: tuple[list[Any], dict[str, int]] | None = None) -> optuna.Study:
    """The study named in ``config``: created, or loaded when it exists and agrees.

    ``task`` (prepared) adds its number of classes, so readers know its chance level
    (the default accuracy floor of :mod:`nas.dominance`) without loading its data, and
    its :class:`~search_spaces.TaskSpec` as the attr ``task_spec``: its ``extra`` holds the
    preprocessing the data needs (image mean/std of the training split, a text vocabulary),
    recorded with the study as with every export. ``prior`` (from
    :func:`nas.search.transfer.load_prior`) is recorded with a new study, and where its
    sampler takes no prior, its best architectures become the first trials.
    """
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
    if config.plugins:
        from nas.plugins import plugin_sources

        attrs["nas_plugin_sources"] = plugin_sources(config.plugins)
    if task is not None:
        from dataclasses import asdict

        attrs["task_spec"] = json.loads(json.dumps(asdict(task.spec), default=str))
    num_classes = _num_classes(task)
    if num_classes is not None:
        attrs[NUM_CLASSES_ATTR] = num_classes
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    _enqueue_start_archs(config, study)
    if prior is not None:
        _start_warm(config, study, *prior)
    return study


def _start_warm(config: StudyConfig, study: optuna.Study, prior: list[Any],
                used: dict[str, int]) -> None:
    from nas.samplers import best_prior_archs, uses_prior
    from nas.samplers._prior import ENQUEUED_PRIOR_ARCHS
    from nas.search.transfer import record_warm_start

    record_warm_start(study, used)
    if not uses_prior(config.sampler.name):
        for arch in best_prior_archs(prior, ENQUEUED_PRIOR_ARCHS):
            study.enqueue_trial(arch, skip_if_exists=True)


def _enqueue_start_archs(config: StudyConfig, study: optuna.Study) -> None:
    """A new study's first trials: the hand-designed baselines named in ``[space] start_from``."""
    if not config.space.params.get("start_from"):
        return
    from search_spaces import create_space

    for arch in create_space(config.space.name, dict(config.space.params)).start_archs:
        study.enqueue_trial(dict(arch), skip_if_exists=True)


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
    """The study file that launched ``study``, its plugins imported (so its names resolve).

    A file plugin missing on this machine is imported from the source stored with the study.
    """
    from dataclasses import replace

    from nas.plugins import load_plugins, materialise

    config = parsed_config_from_study(study)
    if config.plugins:
        sources = study.user_attrs.get("nas_plugin_sources") or {}
        config = replace(config, plugins=materialise(config.plugins, sources))
    load_plugins(config.plugins)
    return config



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


def _num_classes(task: Any) -> int | None:
    """The task's number of classes, or None without a prepared task (its spec is unknown)."""
    try:
        return int(task.spec.num_classes) if task is not None else None
    except (RuntimeError, AttributeError, TypeError, ValueError):
        return None
