"""``nas search``, ``nas worker`` and ``nas validate``."""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._app import STORAGE_HELP, app, console


@app.command()
def search(
    study_file: Path = typer.Argument(..., help="TOML study file, e.g. studies/quickstart.toml."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    n_trials: int = typer.Option(None, "--n-trials", help="Complete trials to reach (overrides the file)."),
    timeout: float = typer.Option(None, "--timeout", help="Stop after this many seconds."),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Worker processes on this machine."),
    study_name: str = typer.Option(None, "--study-name", help="Store under this name instead."),
    seed: int = typer.Option(None, "--seed", help="Sampler and training seed."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run a search, or resume it: the same command again continues up to the budget."""
    from nas.config import load_study_file
    from nas.search import run

    config = load_study_file(study_file).with_overrides(
        storage=storage, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs,
        study_name=study_name, seed=seed, device=device, data_dir=data_dir,
    )
    _quiet_optuna()
    result = run(config, progress=progress)
    out = console()
    if result.interrupted:
        out.print(f"[yellow]interrupted[/]: {result.n_complete} trials complete; "
                  "run the same command again to resume.")
        raise typer.Exit(130)
    out.print(f"{result.n_complete} complete, {result.n_failed} failed trials in "
              f"{result.seconds:.1f} s — study '{result.study_name}'")
    from nas.cli._inspect import print_front

    print_front(result.storage, result.study_name)


@app.command()
def worker(
    study: str = typer.Argument(..., help="Name of an existing study."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    n_trials: int = typer.Option(None, "--n-trials", help="Complete trials the study should reach (default: its budget)."),
    index: int = typer.Option(
        None, "--index",
        help="Worker number: seeds its sampler (default: from host name and process id)."),
    wait: float = typer.Option(
        0, "--wait", min=0,
        help="Seconds to wait for the storage to answer and the study to exist "
             "(created by `nas search` elsewhere), e.g. when all machines start at once."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Join an existing study as one more worker (any machine that reaches the storage)."""
    from nas.config import config_from_study
    from nas.search import run_worker
    from nas.store import resolve_url

    url = resolve_url(storage)
    if index is None:
        import os
        import socket
        import zlib

        # Replicas started alike must not sample alike; in containers every pid is 1.
        index = 1 + zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % 100_000
    _quiet_optuna()
    loaded = _load_when_ready(study, url, wait)
    config = config_from_study(loaded)
    total = n_trials if n_trials is not None else config.budget.n_trials
    result = run_worker(config, url, total, worker_index=index, progress=progress)
    console().print(f"study '{study}': {result.n_complete} complete, {result.n_failed} failed")
    if result.interrupted:
        raise typer.Exit(130)


@app.command()
def validate(
    study_file: Path = typer.Argument(..., help="TOML study file to check."),
) -> None:
    """Check a study file: syntax, keys, names, overrides and data files. Creates nothing."""
    from nas.config import load_study_file
    from nas.search.components import check_components
    from nas.search.worker import build_components

    config = load_study_file(study_file)
    check_components(config)
    build_components(config, "cpu")
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in config.objectives)
    console().print(
        f"[green]ok[/]: study '{config.name}': space {config.space.name}, task {config.task.name}, "
        f"sampler {config.sampler.name}, evaluator {config.evaluator.name}; objectives {objectives}"
    )


def _load_when_ready(study: str, url: str, wait: float):  # type: ignore[no-untyped-def]
    """The study, retrying for up to ``wait`` seconds while the storage or study is missing."""
    import time

    from nas.errors import StorageError
    from nas.search.study import load_study, storage_for

    deadline = time.monotonic() + wait
    while True:
        try:
            return load_study(study, storage_for(url))
        except StorageError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
