"""``nas check-plugin``: the registry contracts run on a user's plugin, each check one line.

The same promises the built-ins' contract tests (``tests/test_contracts.py``,
``tests/search_spaces/test_space_contract.py``) hold them to, in a form a
user can run on their own file: a space samples architectures that validate,
round-trip through JSON and encode to one length, refuses a bad one naming
the field, and builds a model that gives logits of the right shape and
gradients on a small task of each family it claims; a task prepares with its
defaults and gives seeded batches in range; a proxy scores a model to a
number. Nothing here touches a study.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError
from nas.plugins import load_plugins

__all__ = ["Check", "check_plugin", "describe", "raise_on_failure"]


@dataclass(frozen=True)
class Check:
    """One contract check: which component, what was checked, and what went wrong (if anything)."""

    kind: str
    name: str
    check: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_plugin(spec: str) -> list[Check]:
    """Import ``spec`` (a file or module) and run the contract checks on what it registers.

    A plugin that fails to import raises its one-line :class:`ConfigError`; a
    plugin that registers nothing is one failed check.
    """
    registries = _registries()
    before = {kind: set(registry.names()) for kind, registry in registries.items()}
    load_plugins([spec])
    checks: list[Check] = []
    for kind, registry in registries.items():
        for name in sorted(set(registry.names()) - before[kind]):
            checks.extend(_CHECKERS[kind](name, registry.get(name)))
    if not checks:
        checks.append(Check("plugin", spec, "registers a space, task, proxy, evaluator or sampler",
                            "nothing new is registered; use @register_space, @TASKS.register, ..."))
    return checks


# -- per kind ------------------------------------------------------------------

def _space_checks(name: str, cls: Any) -> list[Check]:
    from search_spaces._base import _PROBE_SPECS, _probe_inputs

    out: list[Check] = []
    run = _runner(out, "space", name)
    space = run("constructs with no overrides and has choices", lambda: _space(cls))
    if space is None:
        return out
    archs = run("samples 5 architectures that validate", lambda: _sampled(space, 5))
    if archs:
        run("architectures round-trip through JSON and encode to one length",
            lambda: _round_trip(space, archs))
    run("refuses an unknown choice", lambda: _refuses(space))
    if not cls.families:
        out.append(Check("space", name, "declares families", "set families = (\"image\",) or similar"))
    for family in cls.families:
        spec = _PROBE_SPECS.get(family)
        if spec is None:
            continue
        run(f"builds {family} models: logits of the right shape, finite gradients",
            lambda spec=spec: _forward_all(space, [space.default(), *(archs or [])], spec,
                                           _probe_inputs(spec)))
    return out


def _task_checks(name: str, cls: Any) -> list[Check]:
    out: list[Check] = []
    run = _runner(out, "task", name)
    task = run("constructs with seed 0", lambda: cls(seed=0))
    if task is None:
        return out
    spec = run("prepares with its default parameters", lambda: task.prepare("cpu"))
    if spec is None:
        return out
    run("has a family, input_dim > 0 and at least 2 classes",
        lambda: _expect(spec.family == cls.family and spec.input_dim > 0 and spec.num_classes >= 2,
                        f"spec {spec}"))
    run("gives a seeded example batch with labels in range", lambda: _batches(task, spec))
    return out


def _proxy_checks(name: str, proxy: Any) -> list[Check]:
    import torch

    out: list[Check] = []
    run = _runner(out, "proxy", name)
    from search_spaces import Batch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    batch = Batch((torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0)),),
                  torch.tensor([0, 1, 2, 0]))
    run("scores a small model to a finite number",
        lambda: _expect(isinstance(proxy(model, batch), float), "the score is not a float"))
    return out


def _named(kind: str) -> Callable[[str, Any], list[Check]]:
    def checks(name: str, obj: Any) -> list[Check]:
        return [Check(kind, name, "is registered",
                      None if callable(obj) else f"{obj!r} is not a class or function")]

    return checks


_CHECKERS: dict[str, Callable[[str, Any], list[Check]]] = {
    "space": _space_checks, "task": _task_checks, "proxy": _proxy_checks,
    "evaluator": _named("evaluator"), "sampler": _named("sampler"),
}


# -- helpers -------------------------------------------------------------------

def _registries() -> dict[str, Any]:
    from nas.evaluators import EVALUATORS
    from nas.samplers import SAMPLERS
    from nas.tasks import TASKS
    from proxies import PROXIES
    from search_spaces import SPACES

    return {"space": SPACES, "task": TASKS, "proxy": PROXIES, "evaluator": EVALUATORS,
            "sampler": SAMPLERS}


def _runner(out: list[Check], kind: str, name: str) -> Callable[..., Any]:
    def run(what: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
            text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            out.append(Check(kind, name, what, f"{type(exc).__name__}: {text}".rstrip(": ")))
            return None
        out.append(Check(kind, name, what))
        return value

    return run


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _space(cls: Any) -> Any:
    space = cls()
    _expect(bool(space.choices()), "choices() is empty")
    return space


def _sampled(space: Any, count: int) -> list[Any]:
    import optuna

    from nas.errors import InvalidArchitecture

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    archs = []
    for _ in range(count * 10):
        trial = study.ask()
        try:
            archs.append(space.validate(space.sample(trial)))
        except InvalidArchitecture:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, 0.0)
        if len(archs) == count:
            return archs
    raise AssertionError(f"only {len(archs)} valid architectures in {count * 10} draws")


def _round_trip(space: Any, archs: list[Any]) -> None:
    from nas.architecture import Architecture

    lengths = {space.encode(a).shape for a in archs}
    _expect(len(lengths) == 1, f"encode() gives several lengths: {sorted(lengths)}")
    for arch in archs:
        json.dumps(arch.to_dict())
        copy = Architecture.from_json(arch.to_json())
        _expect(copy == arch and copy.key == arch.key, f"{arch} does not round-trip")


def _refuses(space: Any) -> None:
    from nas.errors import InvalidArchitecture

    try:
        space.validate({**space.default().to_dict(), "no_such_choice": 1})
    except InvalidArchitecture as exc:
        _expect("no_such_choice" in str(exc), f"the error does not name the field: {exc}")
        return
    raise AssertionError("validate() accepted an unknown choice")


def _forward_all(space: Any, archs: list[Any], spec: Any, inputs: tuple[Any, ...]) -> None:
    for arch in archs:
        _forward(space, arch, spec, inputs)


def _forward(space: Any, arch: Any, spec: Any, inputs: tuple[Any, ...]) -> None:
    import torch

    model = space.build(arch, spec)
    logits = model(*inputs)
    if spec.family == "graph":
        expected: tuple[int, ...] = (inputs[0].shape[0], spec.num_classes)
    elif spec.family == "image":
        expected = (inputs[0].shape[0], spec.num_classes)
    else:
        expected = (*inputs[0].shape, spec.num_classes)
    _expect(tuple(logits.shape) == expected, f"{arch}: logits {tuple(logits.shape)}, expected {expected}")
    logits.float().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    _expect(any(g is not None for g in grads), f"{arch}: no parameter gets a gradient")
    _expect(all(torch.isfinite(g).all() for g in grads if g is not None), f"{arch}: non-finite gradients")


def _batches(task: Any, spec: Any) -> None:
    import torch

    batch = task.example_batch(batch_size=4, seed=0)
    again = task.example_batch(batch_size=4, seed=0)
    _expect(torch.equal(batch.targets, again.targets), "example_batch(seed=0) is not seeded")
    _expect(int(batch.targets.min()) >= 0 and int(batch.targets.max()) < spec.num_classes,
            "example batch labels are outside 0..num_classes-1")
    first = next(iter(task.train_batches(0)))
    _expect(bool(first.inputs), "train_batches(0) gives a batch without inputs")


def describe(checks: list[Check]) -> str:
    """One line per check, ``ok``/``FAIL``, and a summary line."""
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.kind} '{c.name}': {c.check}"
             + (f" — {c.error}" if c.error else "") for c in checks]
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)


def raise_on_failure(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if failed:
        first = failed[0]
        raise ConfigError(f"{len(failed)} check(s) failed; first: {first.kind} '{first.name}' "
                          f"{first.check}: {first.error}")

