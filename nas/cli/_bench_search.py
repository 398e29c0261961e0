"""``nas bench search``: samplers' search efficiency on the NAS-Bench-201 table (regret curves).

A front end to ``benchmarks/nb201_search.py`` of a source checkout, which
runs the seeded searches and writes ``OUT/results.csv``, ``OUT/regret.png``
and ``OUT/table.md``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._bench import bench_app

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "nb201_search.py"


@bench_app.command("search")
def bench_search(
    space: str = typer.Option("nb201", "--space", help="Search space with a tabular benchmark: nb201."),
    dataset: str = typer.Option("cifar10", "--dataset", help="cifar10, cifar100 or imagenet16."),
    sampler: str = typer.Option("all", "--sampler", help="Comma list of samplers, or 'all'."),
    queries: str = typer.Option("50,100,200", "--queries", help="Comma list of query counts."),
    seeds: int = typer.Option(30, "--seeds", min=1, help="Seeded searches per sampler."),
    objectives: str = typer.Option("accuracy", "--objectives", help="accuracy, or latency (two objectives)."),
    params: str = typer.Option("{}", "--params", help='JSON: sampler -> params, e.g. {"tpe": {...}}.'),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Processes."),
    out: Path = typer.Option(Path("bench-search"), "--out", help="Folder for results.csv, regret.png, table.md."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
) -> None:
    """Seeded searches per sampler on the NAS-Bench-201 table; print the mean ± 95% CI table."""
    import importlib.util

    from nas.errors import ConfigError, DataError
    from nas.tasks import default_data_dir

    if space != "nb201":
        raise ConfigError(f"--space: '{space}' has no tabular benchmark; allowed: nb201")
    if dataset not in ("cifar10", "cifar100", "imagenet16"):
        raise ConfigError(f"--dataset: unknown '{dataset}'; allowed: cifar10, cifar100, imagenet16")
    if objectives not in ("accuracy", "latency"):
        raise ConfigError(f"--objectives: unknown '{objectives}'; allowed: accuracy, latency")
    if not _SCRIPT.is_file():
        raise DataError(f"nas bench search needs a source checkout: {_SCRIPT} not found")
    spec = importlib.util.spec_from_file_location("nb201_search", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([
        "--dataset", dataset, "--sampler", sampler, "--queries", queries, "--seeds", str(seeds),
        "--objectives", objectives, "--params", params, "--jobs", str(jobs), "--out", str(out),
        "--data-dir", str(data_dir if data_dir is not None else default_data_dir()),
    ])
