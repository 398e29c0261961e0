"""A study's components resolved against their registries, before anything is stored.

:func:`check_components` turns a parsed :class:`nas.config.StudyConfig` (names only)
into a study that can run: every name is registered, the space takes the overrides,
the sampler suits the number of objectives, the task's family suits the space, and
the evaluator measures every objective. It lives here, above the plugins' packages,
so that :mod:`nas.config` stays a torch-free parser that imports no plugin.
"""

from __future__ import annotations

from typing import Any

from nas.config import StudyConfig
from nas.errors import ConfigError, NasError
from nas.evaluators import EVALUATORS
from nas.plugins import load_plugins
from nas.pruners import PRUNERS, check_pruner
from nas.samplers import SAMPLERS, check_sampler
from nas.tasks import TASKS
from search_spaces import SPACES, create_space

__all__ = ["check_components"]


def check_components(config: StudyConfig) -> None:
    """Resolve every name against its registry and check the pieces fit together.

    Imports the plugins (and so torch); call before touching storage so a bad
    file never creates a study.
    """
    load_plugins(config.plugins)

    def resolve(where: str, registry: Any, name: str) -> Any:
        try:
            return registry.get(name)
        except NasError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    resolve("space.name", SPACES, config.space.name)
    create_space(config.space.name, dict(config.space.params))
    task_cls = resolve("task.name", TASKS, config.task.name)
    evaluator_cls = resolve("evaluator.name", EVALUATORS, config.evaluator.name)
    resolve("sampler.name", SAMPLERS, config.sampler.name)
    resolve("pruner.name", PRUNERS, config.pruner.name)
    check_pruner(config.pruner.name, dict(config.pruner.params))
    check_sampler(config.sampler.name, dict(config.sampler.params), len(config.objectives))
    space_cls = SPACES.get(config.space.name)
    if space_cls.families and task_cls.family not in space_cls.families:
        raise ConfigError(
            f"task.name: task '{config.task.name}' is a {task_cls.family} task, but space "
            f"'{config.space.name}' builds {'/'.join(space_cls.families)} models"
        )
    provides = getattr(evaluator_cls, "provides", ())
    if provides:
        for i, objective in enumerate(config.objectives):
            if objective.metric not in provides:
                raise ConfigError(
                    f"objectives[{i}].metric: evaluator '{config.evaluator.name}' does not "
                    f"measure '{objective.metric}'; it measures: {', '.join(provides)}"
                )
