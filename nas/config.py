"""Study files (TOML) parsed into frozen, validated dataclasses.

Every error is a :class:`ConfigError` whose message starts with the key path
(``sampler.name``, ``objectives[1].direction``) and, where the set is finite,
lists the allowed values. Parsing is torch-free and reads no registry:
:func:`nas.search.components.check_components` resolves the names against the
registries (which imports the plugins).

Example file::

    name = "quickstart"
    seed = 0
    [space]
    name = "gnn"
    [task]
    name = "cora"
    [[objectives]]
    metric = "val_accuracy"
    direction = "maximize"
    [sampler]
    name = "nsga2"
    [evaluator]
    name = "train"
    [budget]
    n_trials = 20
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nas.errors import ConfigError
from nas.units import is_accuracy

__all__ = [
    "FrozenDict",
    "Objective",
    "Component",
    "Budget",
    "StudyConfig",
    "load_study_file",
    "parse_study",
    "config_from_study",
]

DIRECTIONS = ("maximize", "minimize")
_TOP_KEYS = {
    "name", "storage", "seed", "n_jobs", "device", "space", "task",
    "objectives", "sampler", "evaluator", "budget", "description", "pruner", "supernet",
    "artifacts", "plugins", "warm_start",
}
#: task params holding file paths: relative ones are relative to the study file
_PATH_PARAM_RE = re.compile(r"^(path|root|\w+_path)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict that pickles (configs travel to worker processes)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("study configuration is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))



@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str = "maximize"
    #: a maximised accuracy's floor (a fraction; 0 for none): a model at or below it cannot
    #: join the Pareto front (nas.dominance); None: the task's chance level
    floor: float | None = None


@dataclass(frozen=True)
class Component:
    """A named plugin and its parameters (space, task, sampler, evaluator)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=lambda: FrozenDict({}))


@dataclass(frozen=True)
class Budget:
    n_trials: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class StudyConfig:
    name: str
    space: Component
    task: Component
    objectives: tuple[Objective, ...]
    sampler: Component
    evaluator: Component
    budget: Budget
    #: Optuna pruner for evaluators that report per-epoch values (``none`` = off)
    pruner: Component = field(default_factory=lambda: Component("none"))
    #: supernet training settings (``[supernet]``), validated by the supernet trainer
    supernet: Mapping[str, Any] = field(default_factory=lambda: FrozenDict({}))
    storage: str | None = None
    #: where trial weights and checkpoints go (a folder or ``s3://bucket/prefix``);
    #: None: beside a SQLite file, else ``$NAS_ARTIFACTS`` (see :mod:`nas.store.artifacts`)
    artifacts: str | None = None
    seed: int = 0
    n_jobs: int = 1
    device: str = "auto"
    description: str = ""
    #: plugin modules or files (absolute paths) imported before any name is resolved
    plugins: tuple[str, ...] = ()
    #: earlier studies in the same storage whose trials are the sampler's prior
    #: (:mod:`nas.search.transfer`)
    warm_start: tuple[str, ...] = ()
    #: the parsed TOML, kept so a study records exactly what launched it
    raw: Mapping[str, Any] = field(default_factory=lambda: FrozenDict({}), compare=False)

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.objectives]

    def with_overrides(self, **changes: Any) -> StudyConfig:
        """A copy with CLI overrides applied (``None`` values are ignored)."""
        budget = self.budget
        if changes.get("n_trials") is not None or changes.get("timeout") is not None:
            budget = Budget(
                _positive_int("--n-trials", changes.get("n_trials") or budget.n_trials)
                if (changes.get("n_trials") or budget.n_trials) is not None else None,
                _positive_float("--timeout", changes.get("timeout") or budget.timeout)
                if (changes.get("timeout") or budget.timeout) is not None else None,
            )
        updates: dict[str, Any] = {"budget": budget}
        if changes.get("study_name"):
            updates["name"] = _study_name("--study-name", changes["study_name"])
        if changes.get("n_jobs") is not None:
            updates["n_jobs"] = _positive_int("--n-jobs", changes["n_jobs"])
        if changes.get("storage"):
            updates["storage"] = changes["storage"]
        if changes.get("device"):
            updates["device"] = _device("--device", changes["device"])
        if changes.get("seed") is not None:
            updates["seed"] = int(changes["seed"])
        if changes.get("data_dir"):
            params = dict(self.task.params, data_dir=str(changes["data_dir"]))
            updates["task"] = Component(self.task.name, FrozenDict(params))
        return replace(self, **updates)

    def to_json(self) -> str:
        """The effective study file (CLI overrides applied, storage URL left out).

        Stored with the study so ``nas worker`` can rebuild the same search;
        the storage URL is omitted because it may carry a password.
        """
        data = _thaw(self.raw)
        data.pop("storage", None)
        data.update(name=self.name, seed=self.seed, n_jobs=self.n_jobs, device=self.device)
        budget = {"n_trials": self.budget.n_trials, "timeout": self.budget.timeout}
        data["budget"] = {k: v for k, v in budget.items() if v is not None}
        task = dict(data.get("task") or {"name": self.task.name})
        if "data_dir" in self.task.params:
            task["data_dir"] = self.task.params["data_dir"]
        data["task"] = task
        if self.plugins:
            data["plugins"] = list(self.plugins)
        return json.dumps(data, sort_keys=True, default=str)


def load_study_file(path: str | Path) -> StudyConfig:
    """Read and validate a TOML study file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"study file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        return parse_study(_absolute_paths(data, path.resolve().parent))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_study(data: Mapping[str, Any]) -> StudyConfig:
    """Validate a parsed study mapping (the TOML document)."""
    if not isinstance(data, Mapping):
        raise ConfigError("a study must be a table of keys")
    _no_unknown("", data, _TOP_KEYS)
    name = _study_name("name", _required("", data, "name"))
    objectives = _objectives(data.get("objectives"))
    budget = _budget(data.get("budget", {}))
    storage = data.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage.strip()):
        raise ConfigError("storage: must be a SQLAlchemy URL string, e.g. 'sqlite:///nas.db'")
    artifacts = data.get("artifacts")
    if artifacts is not None and (not isinstance(artifacts, str) or not artifacts.strip()):
        raise ConfigError("artifacts: must be a folder path or 's3://bucket/prefix' string")
    return StudyConfig(
        name=name,
        space=_component("space", data.get("space"),
                         extra={"choices", "baseline", "start_from", "max_params",
                                "max_flops"},
                         params_key="choices"),
        task=_component("task", data.get("task"), extra={"data_dir", "params"}),
        objectives=objectives,
        sampler=_component("sampler", data.get("sampler", {"name": "tpe"})),
        evaluator=_component("evaluator", data.get("evaluator", {"name": "train"})),
        budget=budget,
        pruner=_component("pruner", data.get("pruner", {"name": "none"})),
        supernet=_table("supernet", data.get("supernet", {})),
        storage=storage,
        artifacts=artifacts,
        seed=_int("seed", data.get("seed", 0), minimum=0),
        n_jobs=_positive_int("n_jobs", data.get("n_jobs", 1)),
        device=_device("device", data.get("device", "auto")),
        description=str(data.get("description", "")),
        plugins=_plugins(data.get("plugins", [])),
        warm_start=_warm_start(data.get("warm_start", []), name),
        raw=FrozenDict(dict(data)),
    )


def config_from_study(study: Any) -> StudyConfig:
    """The study file a study was created with (its user attr ``nas_config``), validated.

    ``study`` is an ``optuna.Study`` (or anything with ``user_attrs`` and ``study_name``).
    """
    raw = study.user_attrs.get("nas_config")
    if not raw:
        raise ConfigError(f"study '{study.study_name}' was not created by nas (no nas_config)")
    return parse_study(raw)


# -- helpers ---------------------------------------------------------------

def is_file_plugin(spec: str) -> bool:
    """A ``plugins`` entry that is a path (``x.py`` or anything with a slash), not a module name."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def _absolute_paths(data: Any, folder: Path) -> Any:
    """File plugins and task path params made absolute against the study file's folder."""
    if not isinstance(data, Mapping):
        return data
    data = dict(data)
    plugins = data.get("plugins")
    if isinstance(plugins, list):
        data["plugins"] = [str(folder / p) if isinstance(p, str) and p and is_file_plugin(p)
                           and not Path(p).expanduser().is_absolute() else p for p in plugins]
    task = data.get("task")
    if isinstance(task, Mapping) and isinstance(task.get("params"), Mapping):
        params = {k: str(folder / v) if isinstance(v, str) and v and _PATH_PARAM_RE.match(k)
                  and not Path(v).expanduser().is_absolute() else v
                  for k, v in task["params"].items()}
        data["task"] = {**task, "params": params}
    return data


def _plugins(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("plugins: must be a list of file paths or module names, "
                          "e.g. [\"my_space.py\", \"mypkg.nas_plugins\"]")
    # A file plugin is stored absolute, so workers and exporters find it from any folder.
    return tuple(str(Path(v).expanduser().resolve()) if is_file_plugin(v) else v for v in value)


def _warm_start(value: Any, own_name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"warm_start: must be a list of study names, got {value!r}")
    names = tuple(_study_name("warm_start", v) for v in value)
    if own_name in names:
        raise ConfigError(f"warm_start: '{own_name}' is this study; name earlier studies")
    if len(set(names)) != len(names):
        raise ConfigError(f"warm_start: a study is named twice in {list(names)}")
    return names


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _required(where: str, data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        path = f"{where}.{key}" if where else key
        raise ConfigError(f"{path}: required key is missing")
    return data[key]


def _no_unknown(where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            shown = key if re.fullmatch(r"[\w\-]+", str(key)) else repr(key)  # one line
            path = f"{where}.{shown}" if where else shown
            raise ConfigError(f"{path}: unknown key; allowed: {', '.join(sorted(allowed))}")


def _study_name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ConfigError(
            f"{where}: must be 1-100 letters, digits, '_', '-' or '.', got {value!r}"
        )
    return value


def _int(where: str, value: Any, minimum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _positive_int(where: str, value: Any) -> int:
    return _int(where, value, minimum=1)


def _positive_float(where: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: must be a positive number of seconds, got {value!r}")
    return float(value)


def _device(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _DEVICE_RE.match(value):
        raise ConfigError(f"{where}: must be one of auto, cpu, cuda, cuda:N, got {value!r}")
    return value


def _component(
    where: str,
    value: Any,
    extra: set[str] | None = None,
    params_key: str = "params",
) -> Component:
    if value is None:
        raise ConfigError(f"{where}: required table is missing")
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table with a 'name'")
    allowed = {"name", "params"} | (extra or set())
    _no_unknown(where, value, allowed)
    name = _required(where, value, "name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: must be a non-empty string")
    for key in dict.fromkeys((params_key, "params")):
        if not isinstance(value.get(key, {}), Mapping):
            raise ConfigError(f"{where}.{key}: must be a table")
    params = dict(value.get(params_key, {}))
    if params_key != "params" and "params" in value:
        params.update(value["params"])
    for key in (extra or set()) - {params_key, "params"}:
        if key in value:
            params[key] = value[key]
    return Component(name, FrozenDict(params))


def _table(where: str, value: Any) -> FrozenDict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table")
    return FrozenDict(dict(value))


def _objectives(value: Any) -> tuple[Objective, ...]:
    if value is None:
        raise ConfigError("objectives: required; e.g. [[objectives]] metric = \"val_accuracy\"")
    if not isinstance(value, list) or not value:
        raise ConfigError("objectives: must be a non-empty list of {metric, direction} tables")
    out = []
    for i, item in enumerate(value):
        where = f"objectives[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: must be a table with 'metric' and 'direction'")
        _no_unknown(where, item, {"metric", "direction", "floor"})
        metric = _required(where, item, "metric")
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"{where}.metric: must be a non-empty string")
        direction = item.get("direction", "maximize")
        if direction not in DIRECTIONS:
            raise ConfigError(
                f"{where}.direction: {direction!r} is not allowed; allowed: maximize, minimize"
            )
        out.append(Objective(metric, direction, _floor(where, item, metric, direction)))
    metrics = [o.metric for o in out]
    if len(set(metrics)) != len(metrics):
        raise ConfigError("objectives: a metric is listed twice")
    return tuple(out)


def _floor(where: str, item: Mapping[str, Any], metric: str, direction: str) -> float | None:
    if "floor" not in item:
        return None
    floor = item["floor"]
    if not (is_accuracy(metric) and direction == "maximize"):
        raise ConfigError(f"{where}.floor: only a maximised accuracy takes a floor, not {metric!r}")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1:
        raise ConfigError(f"{where}.floor: {floor!r} is not allowed; allowed: a fraction in [0, 1) "
                          "(0: no floor; left out: the task's chance level)")
    return float(floor)


def _budget(value: Any) -> Budget:
    if not isinstance(value, Mapping):
        raise ConfigError("budget: must be a table with n_trials and/or timeout")
    _no_unknown("budget", value, {"n_trials", "timeout"})
    n_trials = value.get("n_trials")
    timeout = value.get("timeout")
    if n_trials is None and timeout is None:
        raise ConfigError("budget: give n_trials, timeout (seconds) or both")
    return Budget(
        _positive_int("budget.n_trials", n_trials) if n_trials is not None else None,
        _positive_float("budget.timeout", timeout) if timeout is not None else None,
    )
