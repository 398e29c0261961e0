"""``nas export``: write verified, portable models of chosen trials; ``nas check-export``."""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._app import STORAGE_HELP, app
from nas.errors import ConfigError


@app.command()
def export(
    study: str = typer.Argument(..., help="Study name (see `nas list`)."),
    trial: int = typer.Option(None, "--trial", help="Trial number to export."),
    pareto: bool = typer.Option(False, "--pareto", help="Export every Pareto-optimal trial."),
    best: str = typer.Option(None, "--best", help="Export the best trial by this objective or metric."),
    formats: str = typer.Option(
        None, "--format",
        help="Comma-separated: pt, torchscript, onnx (default: all that trace; pt always).",
    ),
    finetune_epochs: int = typer.Option(
        0, "--finetune-epochs",
        help="Train this many epochs before export (from scratch for tabular/proxy trials).",
    ),
    untrained: bool = typer.Option(
        False, "--untrained",
        help="Export a trial without trained weights (tabular/proxy) as its random initialisation.",
    ),
    artifacts: str = typer.Option(
        None, "--artifacts",
        help="Where the study's artifact store is, if not where the study recorded it "
        "(a folder or s3://bucket/prefix).",
    ),
    out: Path = typer.Option(Path("exported"), "--out", help="Output folder."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    data_task: str = typer.Option(
        None, "--data-task", help="Task with training data for tabular studies (default: cifar10-subset)."
    ),
    task_param: list[str] = typer.Option(
        [], "--task-param", help="KEY=VALUE for the data task (repeatable), e.g. train_size=512."
    ),
) -> None:
    """Export trials as `model.pt`, `arch.json`, `model.ts`/`model.onnx` and a `card.md`.

    Every file takes raw inputs (the task's preprocessing is inside it). TorchScript
    and ONNX files are checked against the in-memory model on real batches of two
    sizes (within 1e-4); the export fails otherwise and leaves nothing behind. A
    trial without trained weights needs `--finetune-epochs E` or `--untrained`.
    """
    if sum([trial is not None, pareto, best is not None]) != 1:
        raise ConfigError("give exactly one of --trial N, --pareto or --best OBJECTIVE")
    from nas.export import export_trials

    paths = export_trials(
        study, storage=storage, trial=trial, pareto=pareto, best=best, formats=formats,
        finetune_epochs=finetune_epochs, untrained=untrained, out_dir=out, data_dir=data_dir,
        data_task=data_task, task_params=_parse_params(task_param), artifacts=artifacts,
    )
    for path in paths:
        # Plain echo, not rich: a long path must stay one line for scripts that read it.
        typer.echo(f"exported {path}")


@app.command()
def delete(
    study: str = typer.Argument(..., help="Study name (see `nas list`)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    artifacts: str = typer.Option(
        None, "--artifacts", help="Where the study's artifact store is, if not where it recorded it."
    ),
) -> None:
    """Delete a study: its trials, its weights and checkpoints in the artifact store, its export records.

    Export folders already written are left alone (they are self-contained).
    """
    from nas.store import resolve_url
    from nas.store.artifacts import delete_study

    if not yes and not typer.confirm(f"delete study '{study}' and all its artifacts?"):
        raise typer.Exit(1)
    removed = delete_study(resolve_url(storage), study, artifacts)
    typer.echo(f"deleted study '{study}' and {removed} artifact(s)")


@app.command("check-export")
def check_export(
    path: Path = typer.Argument(..., help="An export folder, e.g. exported/quickstart/3."),
) -> None:
    """Validate an export folder: files, checksums, and that the weights rebuild the model."""
    from nas.export import load_export, read_export

    model, arch = load_export(path)
    payload = read_export(path)
    files = ", ".join(["model.pt", *payload["files"]])
    typer.echo(
        f"ok {path}: {payload['space']} trial {payload['trial']} of '{payload['study']}', "
        f"{sum(p.numel() for p in model.parameters()):,} params, weights {payload['weights_source']}; "
        f"files {files}"
    )


def _parse_params(items: list[str]) -> dict[str, object]:
    import json

    params: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--task-param: '{item}' is not KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params
