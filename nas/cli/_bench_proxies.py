"""``nas bench proxies``: how well each zero-cost proxy ranks NAS-Bench-201 architectures.

A front end to :func:`nas.bench.proxies.run_proxy_benchmark`, which scores a
seeded sample of architectures and writes ``OUT/correlations.csv``,
``OUT/scores.csv``, ``OUT/correlations.md`` and one ``OUT/scatter_<proxy>.png``
per proxy; ``benchmarks/proxy_correlation.py`` is the same benchmark as a script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nas.cli._bench import bench_app
from nas.cli._output import FORMAT_HELP, Format, print_csv, print_json

_DEFAULT = ("synflow,synflow_bn_train,jacob_cov,snip,grad_norm,grasp,nwot,params,l2_norm,plain,"
            "meco,az_expressivity")


@bench_app.command("proxies")
def bench_proxies(
    space: str = typer.Option("nb201", "--space", help="Search space with a tabular benchmark: nb201."),
    n_archs: int = typer.Option(1000, "--n-archs", min=1, help="Seeded sample of architectures."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the sample and of each network's init."),
    out: Path = typer.Option(Path("bench-proxies"), "--out",
                             help="Folder for correlations.csv/.md, scores.csv, scatter_*.png."),
    proxies: str = typer.Option(_DEFAULT, "--proxies", help="Comma list of proxies."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="CIFAR-10 images scored on."),
    batch_seed: int = typer.Option(0, "--batch-seed", min=0, help="Which CIFAR-10 images."),
    minutes: float = typer.Option(None, "--minutes", help="Stop scoring after this long; report what is done."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch threads."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Score N architectures with each proxy; print Spearman and Kendall against test accuracy.

    Scores are kept in OUT/scores.jsonl: the same command again resumes (and a larger
    --n-archs extends the same sample).
    """
    from nas.bench.proxies import run_proxy_benchmark
    from nas.cli._output import make_console
    from nas.errors import ConfigError
    from nas.tasks import default_data_dir

    if space != "nb201":
        raise ConfigError(f"--space: '{space}' has no tabular benchmark; allowed: nb201")
    names = [p.strip() for p in proxies.split(",") if p.strip()]
    bar = _Bar(enabled=progress, console=make_console(stderr=True))
    with bar:
        result = run_proxy_benchmark(
            n_archs=n_archs, seed=seed, out=out, proxies=names, batch_seed=batch_seed,
            batch_size=batch_size, minutes=minutes, threads=threads,
            data_dir=data_dir if data_dir is not None else default_data_dir(),
            on_progress=bar.update,
        )
    if fmt == Format.json:
        print_json(result.records())
    elif fmt == Format.csv:
        print_csv(result.records())
    else:
        typer.echo(result.table)
        typer.echo(f"files in {result.out}/")


class _Bar:
    """A rich progress bar on stderr (stdout stays clean for --format json/csv)."""

    def __init__(self, enabled: bool, console) -> None:  # type: ignore[no-untyped-def]
        self.enabled = enabled
        self.console = console
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(),
                                      console=self.console)
            self._progress.start()
        return self

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            return
        if self._task is None:
            self._task = self._progress.add_task("", total=total)
        self._progress.update(self._task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
