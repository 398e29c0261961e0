"""The search-space contract every family implements.

A space declares its choices, samples them through ``trial.suggest_*`` (so any
Optuna sampler drives it), validates architectures with errors that name the
field and the allowed values, and builds a ``torch.nn.Module`` for a task.
Models take one batch object and return logits.
"""

from __future__ import annotations

import copy
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Union, cast

import numpy as np

from nas.architecture import Architecture, ChoiceValue
from nas.errors import ConfigError, InvalidArchitecture, NotApplicable

if TYPE_CHECKING:
    import optuna
    import torch
    import torch.nn as nn

__all__ = [
    "LatencyUnit",
    "Batch",
    "Categorical",
    "IntRange",
    "FloatRange",
    "Choice",
    "TaskSpec",
    "SearchSpace",
]


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about its task to be built.

    ``family`` is "graph", "image", "sequence" or "tabular"; ``input_dim`` is
    node features, image channels or vocabulary size; ``input_size`` the image
    side or the sequence length.
    """

    family: str
    input_dim: int
    num_classes: int
    input_size: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """One batch in the shape every model, task, proxy and exporter agrees on.

    ``model(*batch.inputs)`` returns logits; ``targets`` are class indices
    aligned with the logits' leading dimensions; ``mask`` (optional, bool)
    selects which outputs count (a graph split's nodes). By family:

    * graph: ``inputs = (x, edge_index)``, logits ``(nodes, classes)``
    * image: ``inputs = (images,)``, logits ``(batch, classes)``
    * sequence: ``inputs = (tokens,)``, logits ``(batch, time, vocab)``

    Plain tensors as positional inputs keep models traceable (TorchScript,
    ONNX) and let proxies and latency measurements call any model the same way.
    """

    inputs: tuple[Any, ...]
    targets: Any
    mask: Any = None

    def to(self, device: Any) -> Batch:
        move = lambda t: t.to(device) if hasattr(t, "to") else t  # noqa: E731
        return Batch(
            tuple(move(t) for t in self.inputs),
            move(self.targets),
            None if self.mask is None else move(self.mask),
        )

    def selected(self, logits: Any) -> tuple[Any, Any]:
        """``(logits, targets)`` flattened to ``(n, classes)`` / ``(n,)`` and masked."""
        flat_logits = logits.reshape(-1, logits.shape[-1])
        flat_targets = self.targets.reshape(-1)
        if self.mask is not None:
            keep = self.mask.reshape(-1)
            return flat_logits[keep], flat_targets[keep]
        return flat_logits, flat_targets


@dataclass(frozen=True)
class Categorical:
    """One of ``values``; ``allowed`` is the universe an override may widen to."""

    values: tuple[ChoiceValue, ...]
    default: ChoiceValue | None = None
    allowed: tuple[ChoiceValue, ...] | None = None

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError("a categorical choice needs at least one value")
        if self.default is None:
            object.__setattr__(self, "default", self.values[0])

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def describe(self) -> str:
        return "{" + ", ".join(map(str, self.values)) + "}"

    def suggest(self, trial: optuna.Trial, name: str) -> ChoiceValue:
        # Optuna types it as any categorical value or None; it is one of ``values``
        return cast(ChoiceValue, trial.suggest_categorical(name, list(self.values)))

    def grid(self) -> list[ChoiceValue]:
        return list(self.values)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1
    log: bool = False
    default: int | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(f"int range low {self.low} is above high {self.high}")
        if self.default is None:
            object.__setattr__(self, "default", self.low)

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"integers in [{self.low}, {self.high}]{step}"

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def grid(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(f"float range low {self.low} is above high {self.high}")
        if self.log and self.low <= 0:
            raise ConfigError("a log-scaled float range needs low > 0")
        if self.default is None:
            object.__setattr__(self, "default", self.low)

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )

    def describe(self) -> str:
        return f"numbers in [{self.low}, {self.high}]" + (" (log)" if self.log else "")

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def grid(self) -> list[float]:
        raise ValueError("a float range has no finite grid")


Choice = Union[Categorical, IntRange, FloatRange]

#: one unit of a built model for the latency table: its key and a callable that takes the
#: previous unit's output (the first takes the model's input)
LatencyUnit = tuple[str, Callable[[Any], Any]]


class SearchSpace(ABC):
    """Base of every search space; a subclass is one file and ``@register_space``.

    Subclasses implement :meth:`base_choices` and :meth:`build`; they may
    override :meth:`check` for cross-field rules (e.g. heads dividing a dim).
    ``overrides`` narrow or widen choices, as in a study file's
    ``[space.choices]``: a list (categorical values), a table
    ``{low, high, step, log}`` (a range), or a scalar (fixed).
    """

    name: ClassVar[str] = ""
    #: task families this space can build models for
    families: ClassVar[tuple[str, ...]] = ()

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        overrides = dict(overrides or {})
        baseline = overrides.pop("baseline", None)
        start_from = overrides.pop("start_from", ())
        if baseline is not None:
            # A hand-designed preset: every choice fixed to it, explicit choices still win;
            # there is nothing left to search, so no warm start either.
            overrides = {**self.baseline(str(baseline)), **overrides}
            start_from = ()
        base = self.base_choices()
        self._choices = _apply_overrides(self.name, base, overrides)
        for name in overrides:
            for value in _widened(base[name], self._choices[name]):
                self._check_buildable(name, value)
        self.start_archs = self._start_archs(start_from)

    def _start_archs(self, names: Any) -> tuple[Architecture, ...]:
        """``start_from``: baselines the search evaluates first (warm start), in order."""
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise ConfigError("space.start_from: must be a list of baseline names, "
                              f"e.g. [\"gcn\"]; baselines: {', '.join(self.baselines) or 'none'}")
        archs = []
        for name in names:
            preset = self.baseline(str(name))
            try:
                archs.append(self.validate({**self.default(), **preset}))
            except InvalidArchitecture as exc:
                raise ConfigError(f"space.start_from: baseline '{name}' is outside the "
                                  f"narrowed space: {exc}") from None
        return tuple(archs)

    # -- hand-designed presets --------------------------------------------
    #: named hand-designed architectures (``[space] baseline = "gcn"``): choice -> value
    baselines: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    @classmethod
    def baseline(cls, name: str) -> dict[str, Any]:
        """The choices of the hand-designed preset ``name``; a ConfigError lists the known ones."""
        if name not in cls.baselines:
            known = ", ".join(cls.baselines) or "none"
            raise ConfigError(f"space.baseline: '{name}' is not a baseline of space "
                              f"'{cls.name}'; baselines: {known}")
        return dict(cls.baselines[name])

    # -- declaration -----------------------------------------------------
    @abstractmethod
    def base_choices(self) -> dict[str, Choice]:
        """The space's own choices, before study-file overrides."""

    @abstractmethod
    def build(self, arch: Architecture, spec: TaskSpec) -> nn.Module:
        """A fresh, randomly initialised model for ``arch`` on a task."""

    def check(self, arch: Architecture) -> None:
        """Cross-field rules; raise :class:`InvalidArchitecture` saying why."""

    def check_caps(self, arch: Architecture) -> None:
        """Caps a study puts on a whole architecture (parameters, FLOPs); raise
        :class:`InvalidArchitecture` saying which. Apart from :meth:`check` because a
        widened choice is not refused for them: smaller values of the other choices can
        bring an architecture that uses it under the cap."""

    def _check_buildable(self, name: str, value: ChoiceValue) -> None:
        """Refuse a widened value the model cannot build (one line naming the choice).

        Builds the default architecture with ``value`` for ``name`` on a small
        task of the space's first family; cross-field rules (:meth:`check`) and
        caps (:meth:`check_caps`) still apply per architecture at sampling time.
        """
        spec = _PROBE_SPECS.get(self.families[0]) if self.families else None
        if spec is None:
            return
        arch = Architecture({**self.default().to_dict(), name: value})
        uncapped = copy.copy(self)  # build() validates, and a cap is no reason to refuse a value
        uncapped.check_caps = lambda _arch: None  # type: ignore[method-assign,assignment]
        try:
            uncapped.check(arch)
            model = uncapped.build(arch, spec)
            model.train()
            model(*_probe_inputs(spec))  # some layers only object when they run (dropout p > 1)
        except InvalidArchitecture as exc:
            raise ConfigError(f"space.choices.{name}: {value!r} cannot be used: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever the layer says, as one line
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"space.choices.{name}: the model cannot be built with {value!r}: "
                              f"{type(exc).__name__}: {text}") from None

    def active_choices(self, arch: Mapping[str, Any]) -> frozenset[str]:
        """The choices that change the model built for ``arch``; by default every choice.

        A space overrides it where some choices only matter for some values of
        others (e.g. ``gnn``: the conv type does nothing without message passing),
        so readers (the dashboard, export cards) can leave the rest out.
        """
        return frozenset(arch)

    # -- derived API -----------------------------------------------------
    def choices(self) -> dict[str, Choice]:
        return dict(self._choices)

    def fixed(self, values: Mapping[str, Any]) -> SearchSpace:
        """This space with the choices in ``values`` fixed to one value each: the part of
        the space a few-shot supernet group covers (as a study file's scalar override)."""
        part = copy.copy(self)
        part._choices = dict(self._choices)
        for name, value in values.items():
            if name not in self._choices:
                raise ConfigError(f"space.choices.{name}: unknown choice for space "
                                  f"'{self.name}'; choices are: {', '.join(self._choices)}")
            part._choices[name] = _override_one(f"space.choices.{name}", self._choices[name], value)
        return part

    def sample(self, trial: optuna.Trial) -> Architecture:
        """Ask the trial for every choice; retried by the caller if ``check`` fails."""
        return Architecture({n: c.suggest(trial, n) for n, c in self._choices.items()})

    def validate(self, arch: Mapping[str, Any]) -> Architecture:
        """Return ``arch`` as an :class:`Architecture` or raise naming the bad field."""
        arch = arch if isinstance(arch, Architecture) else Architecture(arch)
        filled = {n: v for n, v in self.legacy_values(arch).items() if n not in arch}
        if filled:
            arch = Architecture({**dict(arch), **filled})
        choices = self._choices
        unknown = sorted(set(arch) - set(choices))
        if unknown:
            raise InvalidArchitecture(
                f"{self.name}: unknown choice {unknown[0]!r}; choices are: {', '.join(choices)}"
            )
        missing = [n for n in choices if n not in arch]
        if missing:
            raise InvalidArchitecture(f"{self.name}: missing choice '{missing[0]}'")
        for name, choice in choices.items():
            if not choice.contains(arch[name]):
                raise InvalidArchitecture(
                    f"{self.name}: choice '{name}' = {arch[name]!r} is not allowed; "
                    f"allowed: {choice.describe()}"
                )
        self.check(arch)
        self.check_caps(arch)
        return arch

    def legacy_values(self, arch: Mapping[str, Any]) -> Mapping[str, Any]:
        """Values for choices added after ``arch`` was stored: the ones that rebuild the model
        it was trained as. :meth:`validate` fills those ``arch`` lacks, so an old study's
        trials still load. None by default; a space that grows a choice overrides this."""
        return {}

    def default(self) -> Architecture:
        return Architecture({n: c.default for n, c in self._choices.items()})

    def largest(self) -> Architecture:
        raise NotImplementedError(f"space '{self.name}' does not define largest()")

    def smallest(self) -> Architecture:
        raise NotImplementedError(f"space '{self.name}' does not define smallest()")

    def size(self) -> int | None:
        """Number of architectures, or None where a choice is continuous."""
        total = 1
        for choice in self._choices.values():
            if isinstance(choice, FloatRange):
                return None
            total *= len(choice.grid())
        return total

    def encode(self, arch: Architecture) -> np.ndarray:
        """A fixed-length vector for predictors: one-hot categoricals, scaled ranges."""
        parts: list[float] = []
        for name, choice in self._choices.items():
            value = arch[name]
            if isinstance(choice, Categorical):
                parts.extend(1.0 if _same(value, v) else 0.0 for v in choice.values)
            else:
                low, high = float(choice.low), float(choice.high)
                if choice.log and low > 0:
                    low, high, x = math.log(low), math.log(high), math.log(float(value))
                else:
                    x = float(value)
                parts.append(0.0 if high == low else (x - low) / (high - low))
        return np.asarray(parts, dtype=np.float32)

    def enumerate(self, limit: int | None = None) -> list[Architecture]:
        """Every architecture of a finite space (``limit`` caps the count)."""
        names = list(self._choices)
        grids = [self._choices[n].grid() for n in names]
        out = []
        for values in itertools.product(*grids):
            out.append(Architecture(dict(zip(names, values))))
            if limit is not None and len(out) >= limit:
                break
        return out

    # -- latency-table units (optional; read by nas.latency.table) ---------
    # A space that splits into units (stem, each block, head) implements these four
    # together; the table times every unit once per device and sums them to predict
    # any architecture (Once-for-All, Cai et al. 2020; HAT, Wang et al. 2020).

    @classmethod
    def has_latency_units(cls) -> bool:
        """Whether this space implements the latency-unit methods below."""
        return cls.latency_keys is not SearchSpace.latency_keys

    def latency_keys(self, arch: Architecture, spec: TaskSpec) -> list[str]:
        """One key per unit of ``arch`` in forward order, from the architecture alone.

        A key holds everything that changes the unit's cost: its configuration and
        its input's shape (the batch size is the table's own), e.g.
        ``mbconv|24>40|16|k5|e4.0|s2|se1|relu``.
        """
        raise NotApplicable(f"space '{self.name}' has no per-layer latency decomposition")

    def latency_units(self, model: Any, arch: Architecture, spec: TaskSpec) -> list[LatencyUnit]:
        """``(key, callable)`` for every unit of ``model`` (built for ``arch``), in forward order.

        Each callable takes the previous one's output, so chaining them *is* the
        forward pass and the table times every unit inside a real pass (caches as
        warm or as cold as in one). The keys are :meth:`latency_keys`.
        """
        raise NotApplicable(f"space '{self.name}' has no per-layer latency decomposition")

    def latency_covering(self) -> Iterable[Architecture]:
        """A few architectures whose units together are every unit of this space's choices."""
        raise NotApplicable(f"space '{self.name}' has no per-layer latency decomposition")

    def latency_input(self, spec: TaskSpec, batch_size: int) -> torch.Tensor:
        """A seeded random model input of ``batch_size`` for the task shape ``spec`` (on CPU)."""
        raise NotApplicable(f"space '{self.name}' has no per-layer latency decomposition")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._choices)} choices)"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )


#: small tasks on which a widened choice value must build (one per family)
_PROBE_SPECS = {
    "graph": TaskSpec("graph", input_dim=8, num_classes=3),
    "image": TaskSpec("image", input_dim=3, num_classes=10, input_size=32),
    "sequence": TaskSpec("sequence", input_dim=16, num_classes=16, input_size=16),
}


def _probe_inputs(spec: TaskSpec) -> tuple[Any, ...]:
    import torch

    generator = torch.Generator().manual_seed(0)
    if spec.family == "graph":
        return torch.rand(6, spec.input_dim, generator=generator), torch.tensor(
            [[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    if spec.family == "image":
        side = int(spec.input_size or 32)
        return (torch.randn(2, spec.input_dim, side, side, generator=generator),)
    return (torch.randint(0, spec.input_dim, (2, int(spec.input_size or 8)), generator=generator),)


def _widened(base: Choice, new: Choice) -> list[ChoiceValue]:
    """The values ``new`` allows that ``base`` does not (range ends stand for a range).

    None for a choice with a declared ``allowed`` universe: the space vouches for those.
    """
    if isinstance(base, Categorical) and base.allowed is not None:
        return []
    values = list(new.values) if isinstance(new, Categorical) else [new.low, new.high]
    if isinstance(base, Categorical):
        return [v for v in values if not base.contains(v)]
    return [v for v in values
            if not (isinstance(v, (int, float)) and base.low <= v <= base.high)]


#: ``[space]`` keys that are settings of some spaces, not choices: a space that takes one
#: removes it from the overrides before they reach :func:`_apply_overrides`
_SPACE_SETTINGS = {"max_params": "a parameter cap is a setting of the resnet space only",
                   "max_flops": "a FLOPs cap is a setting of the resnet space only"}


def _apply_overrides(
    space: str, base: dict[str, Choice], overrides: Mapping[str, Any]
) -> dict[str, Choice]:
    result = dict(base)
    for name, value in overrides.items():
        where = f"space.choices.{name}"
        if name in _SPACE_SETTINGS and name not in base:
            raise ConfigError(f"space.{name}: space '{space}' has no such setting; "
                              f"{_SPACE_SETTINGS[name]}")
        if name not in base:
            raise ConfigError(
                f"{where}: unknown choice for space '{space}'; choices are: {', '.join(base)}"
            )
        result[name] = _override_one(where, base[name], value)
    return result


def _override_one(where: str, base: Choice, value: Any) -> Choice:
    if isinstance(value, Mapping):
        if isinstance(base, Categorical):
            raise ConfigError(f"{where}: a categorical choice takes a list of values")
        extra = set(value) - {"low", "high", "step", "log"}
        if extra or "low" not in value or "high" not in value:
            raise ConfigError(f"{where}: a range needs 'low' and 'high' (and optional step, log)")
        try:
            if isinstance(base, IntRange):
                return IntRange(int(value["low"]), int(value["high"]), int(value.get("step", 1)),
                                bool(value.get("log", False)))
            return FloatRange(float(value["low"]), float(value["high"]), bool(value.get("log", False)))
        except (TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values:
        raise ConfigError(f"{where}: an override list must not be empty")
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"{where}: values repeat")
    universe = base.allowed or base.values if isinstance(base, Categorical) else None
    # Numbers may widen past the defaults (the build check judges them), unless the space
    # lists what its layers support (``allowed``); names and flags are a closed set.
    numeric = isinstance(base, Categorical) and base.allowed is None and all(
        isinstance(u, (int, float)) and not isinstance(u, bool) for u in base.values)
    for v in values:
        if numeric:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where}: {v!r} is not allowed; must be a number like {base.describe()}")
            if all(isinstance(u, int) for u in base.values) and not isinstance(v, int):  # type: ignore[union-attr]
                raise ConfigError(f"{where}: {v!r} is not allowed; must be an integer like {base.describe()}")
        elif isinstance(base, Categorical):
            if not any(_same(v, u) for u in universe):  # type: ignore[union-attr]
                raise ConfigError(
                    f"{where}: {v!r} is not allowed; allowed: {', '.join(map(str, universe))}"  # type: ignore[arg-type]
                )
        elif isinstance(base, IntRange):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1 and base.low >= 1:
                raise ConfigError(f"{where}: {v!r} is not allowed; must be an integer like {base.describe()}")
        elif not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ConfigError(f"{where}: {v!r} must be a number")
    return Categorical(values, default=values[0])
