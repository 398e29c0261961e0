"""``nas export``: write trained models of chosen trials to disk."""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._app import STORAGE_HELP, app, console
from nas.errors import ConfigError


@app.command()
def export(
    study: str = typer.Argument(..., help="Study name (see `nas list`)."),
    trial: int = typer.Option(None, "--trial", help="Trial number to export."),
    pareto: bool = typer.Option(False, "--pareto", help="Export every Pareto-optimal trial."),
    out: Path = typer.Option(Path("exported"), "--out", help="Output folder."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
) -> None:
    """Export trials as `model.pt` (state dict + architecture) and `arch.json`."""
    if (trial is None) == (not pareto):
        raise ConfigError("give exactly one of --trial N or --pareto")
    from nas.export import export_trials

    paths = export_trials(study, storage=storage, trial=trial, pareto=pareto, out_dir=out)
    for path in paths:
        console().print(f"exported {path}")
