"""Export trials as verified, portable models: ``nas export STUDY`` and ``nas.load(path)``.

One folder per trial, ``DIR/<study>/<trial>/``:

* ``model.pt``: ``{space, arch, state_dict, spec, inputs, metrics, versions, …}``
  of plain types and tensors, so ``torch.load(path, weights_only=True)`` reads it;
* ``arch.json``: the architecture;
* ``model.ts`` (TorchScript) and ``model.onnx``, traced on a real batch and
  checked against the in-memory model on *another* real batch (parity within
  1e-4, else :class:`~nas.errors.ExportError`);
* ``card.md``: the model card (:mod:`nas.export._card`).

Everything is written into a hidden temp folder beside the target and renamed
at the end, so a failure leaves no half-written export. Each export is
recorded in the ``nas_exports`` table. Weights come from
:mod:`nas.export._weights` (trained checkpoint, re-training, supernet, or
random init / fine-tuning, and the card says which).

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
    NasError,
    StorageError,
    first_line,
)

if TYPE_CHECKING:
    import optuna
    import torch

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
EXPORT_VERSION = 1
#: tabular tasks have no images to train on; these tasks hold the same data set
TRAINING_TASK_FOR = {"nb201-cifar10": "cifar10-subset"}
_PAYLOAD_KEYS = ("export_version", "space", "space_params", "arch", "spec", "state_dict", "inputs",
                 "files")
_TRACE_BATCH, _CHECK_BATCH = 8, 16


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
    out_dir: str | Path = "exported",
    data_dir: str | Path | None = None,
    data_task: str | None = None,
    task_params: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Export the chosen trials of a study; returns the export folders.

    Exactly one of ``trial``, ``pareto`` or ``best`` (an objective or metric
    name) chooses the trials. Raises :class:`ExportError` (nothing written for
    the failing trial) on failed/unknown trials, unsupported formats or
    parity errors.
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
    exporter = _Exporter(study, url, fmt, strict, finetune_epochs, Path(out_dir), data_dir,
                         data_task, dict(task_params or {}))
    return [exporter.export(t) for t in trials]


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


def load_export(path: str | Path) -> tuple[torch.nn.Module, Architecture]:
    """``(model, arch)`` from an export folder: the module in eval mode, weights loaded strictly.

    Validates the folder first (files present, checksums, arch.json agreeing
    with model.pt); any problem is one :class:`ExportError` line.
    """
    from nas.plugins import load_plugins
    from search_spaces import TaskSpec, create_space

    folder = Path(path)
    payload = read_export(folder)
    arch = Architecture(payload["arch"])
    load_plugins(payload.get("plugins") or [])  # the space may come from the study's plugins
    try:
        space = create_space(str(payload["space"]), dict(payload.get("space_params") or {}))
        spec = TaskSpec(**{k: v for k, v in payload["spec"].items()})
        model = space.build(arch, spec)
        model.load_state_dict(payload["state_dict"], strict=True)
    except (NasError, RuntimeError, TypeError, KeyError) as exc:
        raise ExportError(f"{folder}: the saved weights do not rebuild a model: {first_line(exc, 300)}") from None
    model.eval()
    return model, arch


def read_export(path: str | Path) -> dict[str, Any]:
    """The validated ``model.pt`` payload of an export folder (torch only, no model built)."""
    import torch

    from nas.export._formats import sha256_file

    folder = Path(path)
    if not folder.is_dir():
        raise ExportError(f"export folder not found: {folder}")
    model_file = folder / "model.pt"
    if not model_file.is_file():
        raise ExportError(f"{folder} is not a complete export: model.pt is missing")
    try:
        payload = torch.load(model_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - zip/pickle errors of a damaged file
        raise ExportError(f"{model_file} is corrupt: {first_line(exc, 300)}") from None
    if not isinstance(payload, dict) or any(k not in payload for k in _PAYLOAD_KEYS):
        raise ExportError(f"{model_file} is not a nas export (keys missing)")
    if payload["export_version"] != EXPORT_VERSION:
        raise ExportError(f"{model_file}: export version {payload['export_version']} is not supported")
    for name, digest in payload["files"].items():
        file = folder / name
        if not file.is_file():
            raise ExportError(f"{folder} is not a complete export: {name} is missing")
        if sha256_file(file) != digest:
            raise ExportError(f"{file} is corrupt: its checksum differs from the one in model.pt")
    try:
        arch = Architecture.from_json((folder / "arch.json").read_text())
    except InvalidArchitecture as exc:
        raise ExportError(f"{folder / 'arch.json'} is corrupt: {exc}") from None
    if arch != Architecture(payload["arch"]):
        raise ExportError(f"{folder}: arch.json disagrees with model.pt")
    return payload


class _Exporter:
    """Exports trials of one study with one set of options."""

    def __init__(self, study: Any, url: str, formats: tuple[str, ...], strict: bool,
                 finetune_epochs: int, out_dir: Path, data_dir: Any, data_task: str | None,
                 task_params: dict[str, Any]) -> None:
        from nas.search.study import config_from_study

        self.study, self.url = study, url
        self.formats, self.strict, self.finetune_epochs = formats, strict, finetune_epochs
        self.out_dir = out_dir
        self.config = config_from_study(study)
        self._tasks = _TaskPair(self.config, data_dir, data_task, task_params)

    def export(self, trial: Any) -> Path:
        target = self.out_dir / self.study.study_name / str(trial.number)
        staging = target.parent / f".{trial.number}.partial-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            record = self._write(trial, staging)
            _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._record(trial.number, target, record)
        log.info("exported trial %d to %s", trial.number, target)
        return target

    def _write(self, trial: Any, folder: Path) -> dict[str, Any]:
        import torch

        from nas.export import _formats as formats
        from nas.export._card import CardFacts, render_card
        from nas.export._weights import TrialModel, resolve_weights
        from nas.metrics import count_flops, count_params, measure_latency
        from search_spaces import create_space

        config = self.config
        space = create_space(config.space.name, dict(config.space.params))
        try:
            arch = space.validate(Architecture(trial.user_attrs.get("arch") or trial.params))
        except InvalidArchitecture as exc:
            raise ExportError(f"trial {trial.number}: {exc}") from None
        task, data_task = self._tasks.prepare()
        seed = int(trial.user_attrs.get("seed", config.seed + trial.number))
        trial_model = TrialModel(config, trial.number, str(trial.user_attrs.get("fidelity", "")),
                                 dict(trial.user_attrs), arch, space, task.spec, data_task, seed,
                                 self.url)
        try:
            weights = resolve_weights(trial_model, self.finetune_epochs)
        except CheckpointError as exc:
            raise ExportError(f"trial {trial.number}: {exc}") from None
        model = weights.model.cpu().eval()
        batch_task = data_task or task
        family = _naming_family(task.spec.family)
        trace_batch = batch_task.example_batch(batch_size=_TRACE_BATCH, seed=0).to("cpu")
        check_batch = batch_task.example_batch(batch_size=_CHECK_BATCH, seed=1).to("cpu")
        if family == "graph":
            # A graph task has one batch, the whole graph: check on another real graph (a
            # seeded induced subgraph) so the claim "any number of nodes and edges" is tested.
            check_batch = _induced_subgraph(check_batch, seed=1)
        with torch.no_grad():
            reference = model(*check_batch.inputs)

        written: dict[str, float] = {}
        skipped: dict[str, str] = {}
        notes: list[str] = []
        for fmt in self.formats:
            if fmt == "pt":
                continue
            path = folder / formats.PORTABLE_FORMATS[fmt]
            try:
                if fmt == "torchscript":
                    result = formats.write_torchscript(model, trace_batch, check_batch, reference, path)
                else:
                    result = formats.write_onnx(model, family, trace_batch, check_batch, reference, path)
            except ExportError as exc:
                if self.strict or "parity" in str(exc):
                    raise ExportError(f"trial {trial.number}: {exc}") from None
                path.unlink(missing_ok=True)
                skipped[fmt] = str(exc)
                log.warning("trial %d: %s", trial.number, exc)
                continue
            written[fmt] = result.parity_error
            notes.extend(result.warnings)

        latency = measure_latency(model, check_batch, repeats=10)
        names = formats.input_names(family, len(trace_batch.inputs))
        axes = formats.dynamic_axes(family, names)
        inputs = [
            {"name": n, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
             "dynamic": {int(d): a for d, a in axes.get(n, {}).items()}}
            for n, t in zip(names, trace_batch.inputs)
        ]
        trial_metrics = {k: float(v) for k, v in (trial.user_attrs.get("metrics") or {}).items()}
        objectives = list(self.study.user_attrs.get("objectives") or config.metrics)
        directions = [d.name.lower() for d in self.study.directions]
        created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        versions = _versions()
        arch_text = json.dumps(arch.to_dict(), indent=2, sort_keys=True) + "\n"
        (folder / "arch.json").write_text(arch_text)
        facts = CardFacts(
            study=self.study.study_name, trial=trial.number, space=space.name,
            task=config.task.name, data_task=batch_task.name,
            task_params={k: v for k, v in config.task.params.items() if k != "data_dir"},
            arch=arch.to_dict(),
            objectives=[(m, d, v) for m, d, v in zip(objectives, directions, trial.values)],
            fidelity=trial_model.fidelity or "unknown", trial_metrics=trial_metrics,
            weights_source=weights.source, weights_description=weights.description,
            measured_at_export=weights.measured, params=count_params(model),
            flops=count_flops(model, check_batch), latency_ms=latency.median_ms,
            latency_p90_ms=latency.p90_ms, latency_batch=_describe_batch(family, check_batch),
            inputs=inputs, formats=written, skipped_formats=skipped,
            tracer_notes=list(dict.fromkeys(notes)), versions=versions,
            parity_batch=_describe_batch(family, check_batch)
            + (", an induced subgraph on 2/3 of the nodes (seed 1); traced on "
               if family == "graph" else " (seed 1); traced on ")
            + _describe_batch(family, trace_batch) + (" (seed 0)" if family != "graph" else ""),
            created_at=created,
        )
        (folder / "card.md").write_text(render_card(facts))
        files = {"arch.json": "", **{formats.PORTABLE_FORMATS[f]: "" for f in written}}
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
            "output": {"shape": list(reference.shape), "dtype": str(reference.dtype).replace("torch.", "")},
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "metrics": trial_metrics,
            "objectives": {m: v for m, _d, v in facts.objectives},
            "fidelity": facts.fidelity,
            "weights_source": weights.source,
            "measured_at_export": dict(weights.measured),
            "parity": dict(written),
            "files": {name: formats.sha256_file(folder / name) for name in files},
            "versions": versions,
            "created_at": created,
        }
        torch.save(payload, folder / "model.pt")
        # What nas.load will do, done once here: the folder validates and rebuilds the model.
        reloaded, _arch = load_export(folder)
        with torch.no_grad():
            error = formats.parity_error(reloaded(*check_batch.inputs), reference)
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
    """The study's task and the task that holds trainable data (the same one unless tabular)."""

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
            name = self.data_task_name or (
                TRAINING_TASK_FOR.get(config.task.name) if task.family == "tabular" else None)
            if name is None and task.family != "tabular":
                if self.task_params:
                    task = create_task(config.task.name, seed=config.seed,
                                       **{**params, **self.task_params})
                    task.prepare("cpu")
                self._prepared = (task, task)
            elif name is None:
                self._prepared = (task, None)
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


def _induced_subgraph(batch: Any, seed: int, fraction: float = 2 / 3) -> Any:
    """The subgraph of a seeded ``fraction`` of the nodes with the edges among them."""
    import torch

    from search_spaces import Batch

    x, edge_index = batch.inputs[0], batch.inputs[1]
    count = x.shape[0]
    keep = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    keep = keep[: max(2, int(count * fraction))].sort().values
    renumber = torch.full((count,), -1, dtype=torch.long)
    renumber[keep] = torch.arange(len(keep))
    source, target = renumber[edge_index[0]], renumber[edge_index[1]]
    inside = (source >= 0) & (target >= 0)
    edges = torch.stack([source[inside], target[inside]]).to(edge_index.dtype)
    mask = None if batch.mask is None else batch.mask[keep]
    return Batch((x[keep], edges, *batch.inputs[2:]), batch.targets[keep], mask)


def _naming_family(family: str) -> str:
    # Tabular tasks (NAS-Bench-201) describe image networks and give image batches.
    return "image" if family == "tabular" else family


def _describe_batch(family: str, batch: Any) -> str:
    first = batch.inputs[0]
    if family == "graph":
        return f"the whole graph ({first.shape[0]} nodes, {batch.inputs[1].shape[1]} edges)"
    noun = {"image": "images", "sequence": "sequences"}.get(family, "examples")
    return f"a batch of {first.shape[0]} real {noun} {tuple(first.shape[1:])}"


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
