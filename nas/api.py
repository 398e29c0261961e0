"""The Python API, for notebooks and scripts: ``nas.run``, ``nas.trials``, ``nas.best``, ``nas.pareto``.

The same search and the same store as the CLI, without a shell: ::

    import nas
    result = nas.run("studies/quickstart.toml", storage="sqlite:///nas.db")
    result.pareto()                       # a DataFrame, as `nas show` prints it
    frame = nas.trials("quickstart", "sqlite:///nas.db")
    folders = result.export(pareto=True)  # as `nas export --pareto`
    model, arch = nas.load(folders[0])

A study may be a TOML path, a mapping shaped like the TOML document, or a
:class:`~nas.config.StudyConfig`. Readers are torch-free (SQL → pandas).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig, load_study_file, parse_study
from nas.errors import ConfigError, StorageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StudyResult", "run", "trials", "best", "pareto"]


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run` returns: where the study lives and how the run went."""

    study_name: str
    storage: str
    n_complete: int
    n_failed: int
    interrupted: bool
    seconds: float

    def trials(self) -> pd.DataFrame:
        """Every trial of the study (see :func:`nas.trials`)."""
        return trials(self.study_name, self.storage)

    def pareto(self) -> pd.DataFrame:
        """The non-dominated complete trials (see :func:`nas.pareto`)."""
        return pareto(self.study_name, self.storage)

    def best(self, metric: str | None = None) -> pd.Series:
        """The best complete trial (see :func:`nas.best`)."""
        return best(self.study_name, self.storage, metric=metric)

    def export(self, **options: Any) -> list[Path]:
        """Export trials like ``nas export`` (``trial=N``, ``pareto=True`` or ``best=METRIC``)."""
        from nas.export import export_trials

        return export_trials(self.study_name, storage=self.storage, **options)


def run(study: str | Path | Mapping[str, Any] | StudyConfig, *, progress: bool = False,
        **overrides: Any) -> StudyResult:
    """Run (or resume) a search and return a :class:`StudyResult`.

    ``overrides`` are the CLI's: ``storage``, ``n_trials``, ``timeout``,
    ``n_jobs``, ``study_name``, ``seed``, ``device``, ``data_dir``. Bad input
    raises :class:`~nas.errors.NasError` before any study is created.

    >>> result = nas.run({"name": "demo", ...}, storage="sqlite:///nas.db")  # doctest: +SKIP
    """
    from nas.search import run as run_search

    config = study_config(study).with_overrides(**overrides)
    result = run_search(config, progress=progress)
    return StudyResult(result.study_name, result.storage, result.n_complete, result.n_failed,
                       result.interrupted, result.seconds)


def study_config(study: str | Path | Mapping[str, Any] | StudyConfig) -> StudyConfig:
    """A validated :class:`StudyConfig` from a path, a mapping or a config."""
    if isinstance(study, StudyConfig):
        return study
    if isinstance(study, (str, Path)):
        return load_study_file(study)
    if isinstance(study, Mapping):
        return parse_study(study)
    raise ConfigError(f"a study is a TOML path, a mapping or a StudyConfig, got {type(study).__name__}")


def trials(name: str, storage: str | None = None) -> pd.DataFrame:
    """One row per trial: ``number``, ``state``, one column per objective, ``param_*``, attrs."""
    from nas.store import load_trials, read_engine, resolve_url, study_info

    engine = read_engine(resolve_url(storage))
    study_info(engine, name)  # a missing study is a StorageError naming the studies
    return load_trials(engine, name)


def pareto(name: str, storage: str | None = None) -> pd.DataFrame:
    """The complete, non-dominated trials (for one objective: the best trial)."""
    from nas.store import load_trials, pareto_front, read_engine, resolve_url, study_info

    engine = read_engine(resolve_url(storage))
    info = study_info(engine, name)
    return pareto_front(load_trials(engine, name), info["objectives"], info["directions"])


def best(name: str, storage: str | None = None, metric: str | None = None) -> pd.Series:
    """The best complete trial by ``metric`` (default: the study's only objective).

    A multi-objective study has no single best trial: name the objective.
    """
    from nas.store import load_trials, read_engine, resolve_url, study_info

    engine = read_engine(resolve_url(storage))
    info = study_info(engine, name)
    objectives, directions = info["objectives"], info["directions"]
    if metric is None:
        if len(objectives) != 1:
            raise ConfigError(f"metric: study '{name}' has {len(objectives)} objectives; name one "
                              f"of {', '.join(objectives)} (or use nas.pareto)")
        metric = objectives[0]
    if metric not in objectives:
        raise ConfigError(f"metric: '{metric}' is not an objective of study '{name}'; "
                          f"objectives: {', '.join(objectives)}")
    frame = load_trials(engine, name)
    done = frame[frame.state == "COMPLETE"].dropna(subset=[metric])
    if done.empty:
        raise StorageError(f"study '{name}' has no complete trial yet")
    ascending = directions[objectives.index(metric)] == "minimize"
    return done.sort_values([metric, "number"], ascending=[ascending, True]).iloc[0]
