"""Export trials as verified, portable models: ``nas export STUDY`` and ``nas.load(path)``.

One folder per trial, ``DIR/<study>/<trial>/``:

* ``model.pt``: ``{space, arch, state_dict, spec, inputs, input_transform,
  metrics, versions, …}`` of plain types and tensors, so ``torch.load(path,
  weights_only=True)`` reads it;
* ``arch.json``: the architecture; ``inputs.json``: the raw inputs (names,
  dtypes, varying axes, the recipe, a text model's vocabulary);
* ``model.ts`` (TorchScript) and ``model.onnx`` of the task's preprocessing
  and the network as one module (:mod:`nas.export._model`), so they take the
  *raw* data a user has (``Task.raw_inputs``): traced on a real raw batch and
  checked against the in-memory model on another real batch and on one of
  another size (parity within 1e-4, else :class:`~nas.errors.ExportError`);
* ``card.md``: the model card (:mod:`nas.export._card`); ``SHA256SUMS``.

Everything is written into a hidden temp folder beside the target and renamed
at the end, so a failure leaves no half-written export. Each export is
recorded in the ``nas_exports`` table. Weights come from the study's
evaluator through :mod:`nas.export._weights` (the trial's artifact, checked
against its sha256; a supernet's subnet; fine-tuning), and the card says which;
a trial without trained weights is refused unless ``--finetune-epochs`` or
``--untrained``.

>>> model, arch = nas.load("exported/quickstart/3")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.architecture import Architecture
from nas.errors import (
    CheckpointError,
    ExportError,
    InvalidArchitecture,
    NotApplicable,
    StorageError,
    first_line,
)
from nas.export._folder import EXPORT_VERSION, load_export, read_export, write_checksums
from nas.store.artifacts import download, open_store, study_location

if TYPE_CHECKING:
    import optuna

__all__ = [
    "ALL_FORMATS",
    "EXPORT_VERSION",
    "parse_formats",
    "export_trials",
    "select_trials",
    "load_export",
    "read_export",
]

log = logging.getLogger(__name__)

ALL_FORMATS = ("pt", "torchscript", "onnx")
_TRACE_BATCH, _CHECK_BATCH, _EVAL_CHUNK = 8, 16, 500


def parse_formats(text: str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """``("pt", …)`` from ``"pt,onnx"``; ``None`` means all, skipping what does not trace.

    Returns ``(formats, strict)``: formats named explicitly must all succeed.
    """
    if text is None or text == "auto":
        return ALL_FORMATS, False
    names = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    for name in names:
        if name not in ALL_FORMATS:
            raise ExportError(f"--format: '{name}' is not allowed; allowed: {', '.join(ALL_FORMATS)}")
    # model.pt is what nas.load reads: always written.
    return tuple(f for f in ALL_FORMATS if f in names or f == "pt"), True


def export_trials(
    study_name: str,
    *,
    storage: str | None = None,
    trial: int | None = None,
    pareto: bool = False,
    best: str | None = None,
    formats: str | Sequence[str] | None = None,
    finetune_epochs: int = 0,
    untrained: bool = False,
    out_dir: str | Path = "exported",
    data_dir: str | Path | None = None,
    data_task: str | None = None,
    task_params: Mapping[str, Any] | None = None,
    artifacts: str | None = None,
) -> list[Path]:
    """Export the chosen trials of a study; returns the export folders.

    Exactly one of ``trial``, ``pareto`` or ``best`` (an objective or metric
    name) chooses the trials. Raises :class:`ExportError` (nothing written for
    the failing trial) on failed/unknown trials, trials without trained
    weights (unless ``finetune_epochs`` or ``untrained``), unsupported formats
    or parity errors. ``artifacts`` overrides where the study's artifact store
    is (another mount of the same folder).
    """
    from nas.search.study import load_study
    from nas.store import resolve_url

    chosen = sum([trial is not None, bool(pareto), best is not None])
    if chosen != 1:
        raise ExportError("give exactly one of --trial N, --pareto or --best OBJECTIVE")
    if finetune_epochs < 0:
        raise ExportError(f"--finetune-epochs must be >= 0, got {finetune_epochs}")
    fmt, strict = parse_formats(formats)
    url = resolve_url(storage)
    study = load_study(study_name, _optuna_storage(url))
    trials = select_trials(study, trial=trial, pareto=pareto, best=best)
    exporter = _Exporter(study, url, fmt, strict, finetune_epochs, untrained, Path(out_dir),
                         data_dir, data_task, dict(task_params or {}), artifacts)
    try:
        return [exporter.export(t) for t in trials]
    finally:
        exporter.close()


def select_trials(
    study: optuna.Study, *, trial: int | None = None, pareto: bool = False, best: str | None = None
) -> list[optuna.trial.FrozenTrial]:
    """The trials an export command names, or an :class:`ExportError` saying why none."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if trial is not None:
        found = [t for t in trials if t.number == trial]
        if not found:
            span = f"0..{trials[-1].number}" if trials else "none"
            raise ExportError(
                f"study '{study.study_name}' has no trial {trial}; trial numbers: {span}"
            )
        chosen = found[0]
        if chosen.state != TrialState.COMPLETE:
            reason = chosen.user_attrs.get("error") or chosen.user_attrs.get("invalid") or ""
            raise ExportError(
                f"trial {trial} of study '{study.study_name}' is {chosen.state.name}, not COMPLETE"
                + (f" ({reason})" if reason else "") + "; only complete trials can be exported"
            )
        return [chosen]
    if not complete:
        raise ExportError(f"study '{study.study_name}' has no complete trial to export")
    objectives = list(study.user_attrs.get("objectives") or [])
    directions = [d.name.lower() for d in study.directions]
    if pareto:
        front = study.best_trials if len(directions) > 1 else [study.best_trial]
        return sorted(front, key=lambda t: t.number)
    assert best is not None
    if best in objectives:
        index = objectives.index(best)
        sign = -1.0 if directions[index] == "maximize" else 1.0
        return [min(complete, key=lambda t: (sign * t.values[index], t.number))]
    measured = [t for t in complete if best in (t.user_attrs.get("metrics") or {})]
    if not measured:
        known = sorted({*objectives, *(k for t in complete for k in (t.user_attrs.get("metrics") or {}))})
        raise ExportError(f"--best: '{best}' is not a metric of this study; metrics: {', '.join(known)}")
    # Not an objective: accuracies are maximised, everything else (loss, size, time) minimised.
    sign = -1.0 if "accuracy" in best else 1.0
    return [min(measured, key=lambda t: (sign * float(t.user_attrs["metrics"][best]), t.number))]


class _Exporter:
    """Exports trials of one study with one set of options."""

    def __init__(self, study: Any, url: str, formats: tuple[str, ...], strict: bool,
                 finetune_epochs: int, untrained: bool, out_dir: Path, data_dir: Any,
                 data_task: str | None, task_params: dict[str, Any], artifacts: str | None) -> None:
        import tempfile

        from nas.search.study import config_from_study  # imports the study's plugins

        self.study, self.url = study, url
        self.formats, self.strict = formats, strict
        self.finetune_epochs, self.untrained = finetune_epochs, untrained
        self.out_dir = out_dir
        self.config = config_from_study(study)
        self._tasks = _TaskPair(self.config, data_dir, data_task, task_params)
        self._artifacts = artifacts
        self._store: Any = None
        self._downloads = Path(tempfile.mkdtemp(prefix="nas-export-"))
        self._evaluator: Any = None

    def close(self) -> None:
        shutil.rmtree(self._downloads, ignore_errors=True)

    def fetch(self, record: Mapping[str, Any], what: str) -> Path:
        """An artifact of this study, downloaded once and checked against its sha256."""
        if self._store is None:
            self._store = open_store(study_location(self.study, self.url, self._artifacts))
        target = self._downloads / str(record["id"])
        if target.is_file():
            return target
        return download(self._store, record, target, f"{what} of study '{self.study.study_name}'")

    def export(self, trial: Any) -> Path:
        target = self.out_dir / self.study.study_name / str(trial.number)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{trial.number}.partial-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            record = self._write(trial, staging)
            _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._record(trial.number, target, record)
        log.info("exported trial %d to %s", trial.number, target)
        return target

    def _evaluator_on(self, space: Any, data_task: Any) -> Any:
        """The study's evaluator, on the task that can train (None when none can)."""
        if self._evaluator is None and data_task is not None:
            from nas.evaluators import EVALUATORS

            config = self.config
            self._evaluator = EVALUATORS.get(config.evaluator.name)(
                space, data_task, dict(config.evaluator.params), device="cpu", seed=config.seed)
        return self._evaluator

    def _write(self, trial: Any, folder: Path) -> dict[str, Any]:
        import torch

        from nas.export import _formats as formats
        from nas.export._card import CardFacts, render_card
        from nas.export._model import ExportedModel
        from nas.export._weights import TrialModel, resolve_weights
        from nas.metrics import count_flops, count_params, measure_latency
        from nas.tasks._inputs import transform_spec
        from search_spaces import create_space

        config = self.config
        space = create_space(config.space.name, dict(config.space.params))
        try:
            arch = space.validate(Architecture(trial.user_attrs.get("arch") or trial.params))
        except InvalidArchitecture as exc:
            raise ExportError(f"trial {trial.number}: {exc}") from None
        task, data_task = self._tasks.prepare()
        seed = int(trial.user_attrs.get("seed", config.seed + trial.number))
        trial_model = TrialModel(trial, arch, space, task.spec,
                                 self._evaluator_on(space, data_task), data_task, seed, self.fetch)
        try:
            weights = resolve_weights(trial_model, self.finetune_epochs, self.untrained)
        except CheckpointError as exc:
            raise ExportError(str(exc)) from None
        network = weights.model.cpu().eval()
        batch_task = data_task or task
        raw = batch_task.raw_inputs()
        model = ExportedModel(raw.transform.eval(), network).eval()
        trace = raw.example(_TRACE_BATCH, 0)
        check = raw.example(_CHECK_BATCH, 1)
        smaller = raw.smaller(check)
        checks = []
        for batch, what in ((check, "a real raw batch (seed 1)"),
                            (smaller, "a real raw batch of another size")):
            with torch.no_grad():
                reference = model(*batch.inputs)
            checks.append(formats.Check(tuple(batch.inputs), reference,
                                        f"{what}: {_describe(raw.names, batch.inputs)}"))

        written: dict[str, float] = {}
        skipped: dict[str, str] = {}
        notes: list[str] = []
        for fmt in self.formats:
            if fmt == "pt":
                continue
            path = folder / formats.PORTABLE_FORMATS[fmt]
            try:
                if fmt == "torchscript":
                    result = formats.write_torchscript(model, trace.inputs, checks, path)
                else:
                    result = formats.write_onnx(model, raw.names, raw.dynamic_axes, trace.inputs,
                                                checks, path)
            except ExportError as exc:
                if self.strict or "parity" in str(exc):
                    raise ExportError(f"trial {trial.number}: {exc}") from None
                path.unlink(missing_ok=True)
                skipped[fmt] = str(exc)
                # Said up front, on screen: which format is missing and why.
                log.warning("trial %d: %s not written: %s", trial.number, fmt, exc)
                continue
            written[fmt] = result.parity_error
            notes.extend(result.warnings)

        measured = dict(weights.measured)
        measured.update(_raw_metrics(model, raw))
        with torch.no_grad():
            network_batch = raw.transform(*check.inputs)
        latency = measure_latency(network, _as_batch(network_batch, check), repeats=10)
        inputs = [
            {"name": n, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
             "dynamic": {int(d): a for d, a in dict(raw.dynamic_axes.get(n, {})).items()}}
            for n, t in zip(raw.names, trace.inputs)
        ]
        trial_metrics = {k: float(v) for k, v in (trial.user_attrs.get("metrics") or {}).items()}
        objectives = list(self.study.user_attrs.get("objectives") or config.metrics)
        directions = [d.name.lower() for d in self.study.directions]
        created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        versions = _versions()
        (folder / "arch.json").write_text(json.dumps(arch.to_dict(), indent=2, sort_keys=True) + "\n")
        described_inputs = {"inputs": inputs, "recipe": raw.recipe, **_plain(dict(raw.extra))}
        (folder / "inputs.json").write_text(json.dumps(described_inputs, indent=2) + "\n")
        facts = CardFacts(
            study=self.study.study_name, trial=trial.number, space=space.name,
            task=config.task.name, data_task=batch_task.name,
            task_params={k: v for k, v in config.task.params.items() if k != "data_dir"},
            arch=arch.to_dict(),
            objectives=[(m, d, v) for m, d, v in zip(objectives, directions, trial.values)],
            fidelity=str(trial.user_attrs.get("fidelity") or "unknown"),
            trial_metrics=trial_metrics,
            weights_source=weights.source, weights_description=weights.description,
            measured_at_export=measured, params=count_params(network),
            flops=count_flops(network, _as_batch(network_batch, check)), latency_ms=latency.median_ms,
            latency_p90_ms=latency.p90_ms, latency_batch=_describe(raw.names, check.inputs),
            inputs=inputs, input_recipe=raw.recipe, formats=written, skipped_formats=skipped,
            tracer_notes=list(dict.fromkeys(notes)), versions=versions,
            parity_batch="; ".join(c.description for c in checks)
            + f"; traced on {_describe(raw.names, trace.inputs)} (seed 0)",
            created_at=created,
        )
        (folder / "card.md").write_text(render_card(facts))
        payload = {
            "export_version": EXPORT_VERSION,
            "study": self.study.study_name,
            "trial": int(trial.number),
            "space": space.name,
            "space_params": _plain(dict(config.space.params)),
            "plugins": list(config.plugins),
            "task": config.task.name,
            "data_task": batch_task.name,
            "arch": arch.to_dict(),
            "spec": _plain(asdict(task.spec)),
            "inputs": inputs,
            "input_transform": transform_spec(raw.transform),
            "input_recipe": raw.recipe,
            **{k: _plain(v) for k, v in raw.extra.items()},
            "output": {"shape": list(checks[0].reference.shape),
                       "dtype": str(checks[0].reference.dtype).replace("torch.", "")},
            "state_dict": {k: v.detach().cpu().clone() for k, v in network.state_dict().items()},
            "metrics": trial_metrics,
            "objectives": {m: v for m, _d, v in facts.objectives},
            "fidelity": facts.fidelity,
            "weights_source": weights.source,
            "measured_at_export": measured,
            "parity": dict(written),
            "files": {name: formats.sha256_file(folder / name)
                      for name in ("arch.json", "inputs.json", "card.md",
                                   *(formats.PORTABLE_FORMATS[f] for f in written))},
            "versions": versions,
            "created_at": created,
        }
        torch.save(payload, folder / "model.pt")
        write_checksums(folder)
        # What nas.load will do, done once here: the folder validates and rebuilds the model.
        reloaded, _arch = load_export(folder)
        for item in checks:
            with torch.no_grad():
                error = formats.parity_error(reloaded(*item.inputs), item.reference)
            if not error <= formats.PARITY_TOLERANCE:
                raise ExportError(f"trial {trial.number}: model.pt does not reproduce the model "
                                  f"(error {error:.3g} > {formats.PARITY_TOLERANCE:g})")
        return {"formats": ["pt", *written], "parity": max(written.values(), default=None),
                "source": weights.source}

    def _record(self, number: int, target: Path, record: dict[str, Any]) -> None:
        from sqlalchemy.orm import Session

        from nas.store import ExportRecord, write_engine

        engine = write_engine(self.url)
        try:
            with Session(engine) as session:
                session.add(ExportRecord(
                    study_name=self.study.study_name, trial_number=int(number),
                    path=str(target.resolve()), formats=",".join(record["formats"]),
                    parity_error=record["parity"], weights_source=record["source"],
                ))
                session.commit()
        finally:
            engine.dispose()


class _TaskPair:
    """The study's task and the task that holds trainable data (its training counterpart)."""

    def __init__(self, config: Any, data_dir: Any, data_task: str | None,
                 task_params: dict[str, Any]) -> None:
        self.config, self.data_dir = config, data_dir
        self.data_task_name, self.task_params = data_task, task_params
        self._prepared: tuple[Any, Any] | None = None

    def prepare(self) -> tuple[Any, Any]:
        if self._prepared is None:
            from nas.tasks import create_task

            config = self.config
            params = dict(config.task.params)
            if self.data_dir is not None:
                params["data_dir"] = str(self.data_dir)
            task = create_task(config.task.name, seed=config.seed, **params)
            task.prepare("cpu")
            name = self.data_task_name or task.training_counterpart
            if name is None:
                if self.task_params:
                    task = create_task(config.task.name, seed=config.seed,
                                       **{**params, **self.task_params})
                    task.prepare("cpu")
                trains = _can_train(task)
                self._prepared = (task, task if trains else None)
            else:
                extra = {"data_dir": params["data_dir"]} if "data_dir" in params else {}
                data = create_task(name, seed=config.seed, **extra, **self.task_params)
                data.prepare("cpu")
                if (data.spec.input_dim, data.spec.num_classes) != (task.spec.input_dim,
                                                                    task.spec.num_classes):
                    raise ExportError(f"--data-task '{name}' does not match task "
                                      f"'{config.task.name}' (input or class count differs)")
                self._prepared = (task, data)
        return self._prepared


def _can_train(task: Any) -> bool:
    try:
        next(iter(task.train_batches(0)))
    except NotApplicable:
        return False
    return True


def _raw_metrics(model: Any, raw: Any) -> dict[str, float]:
    """Test accuracy of the exported model on the raw test split (what a user would measure)."""
    import torch

    try:
        split = raw.split("test")
    except (NotImplementedError, NotApplicable):
        return {}
    batched = dict(raw.dynamic_axes.get(raw.names[0], {})).get(0) == "batch"
    step = _EVAL_CHUNK if batched else split.inputs[0].shape[0]
    correct = count = 0
    with torch.no_grad():
        for start in range(0, split.inputs[0].shape[0], step):
            part = type(split)(tuple(t[start:start + step] for t in split.inputs) if batched
                               else split.inputs,
                               split.targets[start:start + step] if batched else split.targets,
                               split.mask)
            logits, targets = part.selected(model(*part.inputs))
            correct += int((logits.argmax(-1) == targets).sum())
            count += int(targets.numel())
    return {"test_accuracy_raw_inputs": correct / max(1, count)}


def _as_batch(inputs: Any, like: Any) -> Any:
    from search_spaces import Batch

    return Batch(tuple(inputs), like.targets, like.mask)


def _describe(names: Sequence[str], inputs: Sequence[Any]) -> str:
    return ", ".join(f"{n} {tuple(t.shape)} {str(t.dtype).replace('torch.', '')}"
                     for n, t in zip(names, inputs))


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder to ``target``; an older export there is replaced."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _optuna_storage(url: str) -> Any:
    from nas.store import open_storage

    try:
        return open_storage(url)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot open storage: {first_line(exc, 300)}") from None


def _versions() -> dict[str, str]:
    import torch

    from nas._version import __version__

    # str(): torch.__version__ is a TorchVersion, which weights_only loading refuses.
    versions = {"nas": __version__, "torch": str(torch.__version__),
                "python": platform.python_version()}
    # From the installed metadata: importing torch_geometric only to read its version costs seconds.
    from importlib.metadata import PackageNotFoundError, version

    for key, distribution in (("torch_geometric", "torch-geometric"), ("onnx", "onnx"),
                              ("onnxruntime", "onnxruntime")):
        try:
            versions[key] = version(distribution)
        except PackageNotFoundError:
            continue
    return versions


def _plain(value: Any) -> Any:
    """Plain JSON-like types (no FrozenDict, tuples or numpy scalars) for weights_only loading."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
