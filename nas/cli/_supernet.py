"""``nas train-supernet FILE [--resume]``: train a study's weight-sharing supernet."""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._app import STORAGE_HELP, app, console


@app.command("train-supernet")
def train_supernet(
    study_file: Path = typer.Argument(..., help="TOML study file with a [supernet] table."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    seed: int = typer.Option(None, "--seed", help="Training seed (overrides the file)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    stop_after: int = typer.Option(None, "--stop-after", help="Stop after this epoch (resume later)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train the supernet of the study's space on its task; a checkpoint per epoch."""
    from nas.config import load_study_file
    from nas.supernet.from_study import train_supernet as run

    config = load_study_file(study_file).with_overrides(
        storage=storage, seed=seed, device=device, data_dir=data_dir
    )
    result = run(config, resume=resume, storage=config.storage, progress=progress,
                 device=device, stop_after=stop_after)
    for group in result.groups:  # few-shot: one line per group's supernet
        last = f"{group.losses[-1]:.4f}" if group.losses else "n/a"
        label = ", ".join(f"{k}={v}" for k, v in group.group.items())
        console().print(f"  group {label}: epoch {group.epochs}, last loss {last}, "
                        f"{group.seconds:.1f} s; checkpoint {group.checkpoint}")
    if result.groups:
        console().print(f"few-shot supernet {config.space.name}/{config.task.name}: "
                        f"{len(result.groups)} groups, {result.seconds:.1f} s")
        return
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    console().print(
        f"supernet {config.space.name}/{config.task.name}: epoch {result.epochs} "
        f"(resumed from {result.resumed_from}), last loss {last}, {result.seconds:.1f} s; "
        f"checkpoint {result.checkpoint}"
    )
