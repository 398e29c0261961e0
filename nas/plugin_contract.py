"""``nas check-plugin``: the registry contracts run on a user's plugin, each check one line.

The one copy of the contract checks: ``nas check-plugin`` runs them on what a
user's file registers, and the built-ins' contract tests (``tests/test_contracts.py``,
``tests/search_spaces/test_space_contract.py``) call the same functions on every
registered name. A space samples architectures that validate, round-trip through
JSON and encode to one finite length, refuses a bad one naming the field, and
builds a model that gives finite logits of the right shape and gradients on a
small task of each family it claims; a task prepares with its defaults and gives
seeded batches in range; a proxy scores a model to a number. Each ``check_*``
function raises ``AssertionError`` saying what is broken. Nothing here touches a
study.

    space = create_space("gnn")
    check_round_trip(space, sample_architectures(space, 5))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitecture
from nas.plugins import load_plugins
from search_spaces import Batch

__all__ = [
    "Check",
    "check_plugin",
    "describe",
    "raise_on_failure",
    "sample_architectures",
    "check_round_trip",
    "check_refuses_unknown_choice",
    "check_forward_backward",
    "check_task_spec",
    "check_example_batch",
    "check_train_batch",
]


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
    archs = run("samples 5 architectures that validate", lambda: sample_architectures(space, 5))
    if archs:
        run("architectures round-trip through JSON and encode to one length",
            lambda: check_round_trip(space, archs))
    run("refuses an unknown choice", lambda: check_refuses_unknown_choice(space))
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
    run("has a family, input_dim > 0 and at least 2 classes", lambda: check_task_spec(cls, spec))
    run("gives a seeded example batch with labels in range", lambda: _batches(task, spec))
    return out


def _proxy_checks(name: str, proxy: Any) -> list[Check]:
    import torch

    out: list[Check] = []
    run = _runner(out, "proxy", name)
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


# -- the checks ----------------------------------------------------------------

def sample_architectures(space: Any, count: int, seed: int = 0) -> list[Architecture]:
    """``count`` valid architectures drawn as a search draws them (``space.sample(trial)``,
    a draw that ``validate`` refuses is drawn again, ten tries per architecture)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    archs: list[Architecture] = []
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
    raise AssertionError(f"{space.name}: only {len(archs)} valid architectures in {count * 10} draws")


def check_round_trip(space: Any, archs: list[Architecture]) -> None:
    """``archs`` encode to one length of finite numbers, are JSON-safe (a trial attr), come
    back equal, with the same key, from JSON and from ``validate(arch.to_dict())``."""
    encodings = [space.encode(a) for a in archs]
    lengths = {e.shape for e in encodings}
    _expect(len(lengths) == 1, f"encode() gives several lengths: {sorted(lengths)}")
    _expect(all(np.isfinite(e).all() for e in encodings), "encode() gives non-finite numbers")
    for arch in archs:
        json.dumps(arch.to_dict())
        copy = Architecture.from_json(arch.to_json())
        _expect(copy == arch and copy.key == arch.key, f"{arch} does not round-trip")
        _expect(space.validate(arch.to_dict()) == arch, f"{arch} changes when validated again")


def check_refuses_unknown_choice(space: Any) -> None:
    """``validate`` refuses the default architecture plus an unknown choice, naming it."""
    try:
        space.validate({**space.default().to_dict(), "no_such_choice": 1})
    except InvalidArchitecture as exc:
        _expect("no_such_choice" in str(exc), f"the error does not name the field: {exc}")
        return
    raise AssertionError("validate() accepted an unknown choice")


def check_forward_backward(space: Any, arch: Architecture, spec: Any,
                           inputs: tuple[Any, ...]) -> Any:
    """The model ``space.build(arch, spec)`` (returned), in train mode, gives finite logits
    of the family's shape for ``inputs``, and some non-zero, all finite gradients."""
    import torch

    model = space.build(arch, spec)
    model.train()
    logits = model(*inputs)
    if spec.family == "sequence":  # one prediction per token
        expected: tuple[int, ...] = (*inputs[0].shape, spec.num_classes)
    else:  # one per image, one per graph node
        expected = (inputs[0].shape[0], spec.num_classes)
    _expect(tuple(logits.shape) == expected, f"{arch}: logits {tuple(logits.shape)}, expected {expected}")
    _expect(bool(torch.isfinite(logits).all()), f"{arch}: non-finite logits")
    logits.float().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    _expect(any(g.abs().sum() > 0 for g in grads), f"{arch}: no parameter gets a gradient")
    _expect(all(torch.isfinite(g).all() for g in grads), f"{arch}: non-finite gradients")
    return model


def check_task_spec(cls: Any, spec: Any) -> None:
    """The spec a task of class ``cls`` prepared: its family, inputs and at least 2 classes."""
    _expect(spec.family == cls.family and spec.input_dim > 0 and spec.num_classes >= 2,
            f"spec {spec}")


def check_example_batch(task: Any, spec: Any) -> None:
    """``task.example_batch`` gives a batch with inputs and labels in range, the same
    targets and inputs again for the same seed."""
    import torch

    batch = task.example_batch(batch_size=4, seed=0)
    again = task.example_batch(batch_size=4, seed=0)
    _expect(isinstance(batch, Batch) and bool(batch.inputs), "example_batch gives no Batch with inputs")
    _expect(int(batch.targets.min()) >= 0 and int(batch.targets.max()) < spec.num_classes,
            "example batch labels are outside 0..num_classes-1")
    _expect(torch.equal(batch.targets, again.targets)
            and all(torch.equal(_dense(a), _dense(b)) for a, b in zip(again.inputs, batch.inputs)),
            "example_batch(seed=0) is not seeded")


def check_train_batch(task: Any, spec: Any) -> None:
    """The first batch of ``task.train_batches(0)`` has inputs and labels in range (a task
    that cannot train, a lookup table, raises its ``NotApplicable``)."""
    first = next(iter(task.train_batches(0)))
    _expect(isinstance(first, Batch) and bool(first.inputs),
            "train_batches(0) gives a batch without inputs")
    _expect(int(first.targets.min()) >= 0 and int(first.targets.max()) < spec.num_classes,
            "train batch labels are outside 0..num_classes-1")


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


def _forward_all(space: Any, archs: list[Architecture], spec: Any, inputs: tuple[Any, ...]) -> None:
    for arch in archs:
        check_forward_backward(space, arch, spec, inputs)


def _batches(task: Any, spec: Any) -> None:
    check_example_batch(task, spec)
    check_train_batch(task, spec)


def _dense(tensor: Any) -> Any:
    return tensor.to_dense() if tensor.is_sparse else tensor


def _space(cls: Any) -> Any:
    space = cls()
    _expect(bool(space.choices()), "choices() is empty")
    return space


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

