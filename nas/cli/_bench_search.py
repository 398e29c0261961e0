"""``nas bench search``: samplers' search efficiency on the NAS-Bench-201 table (regret curves).

A front end to :func:`nas.bench.search.run_search_benchmark`, which runs
the seeded searches and writes ``OUT/results.csv``, ``OUT/regret.png`` and
``OUT/table.md``; ``benchmarks/nb201_search.py`` is the same benchmark as a
script.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._bench import bench_app


@bench_app.command("search")
def bench_search(
    space: str = typer.Option("nb201", "--space", help="Search space with a tabular benchmark: nb201."),
    dataset: str = typer.Option("cifar10", "--dataset", help="cifar10, cifar100 or imagenet16."),
    sampler: str = typer.Option("all", "--sampler", help="Comma list of samplers, or 'all'."),
    queries: str = typer.Option("50,100,200", "--queries", help="Comma list of query counts."),
    seeds: int = typer.Option(30, "--seeds", min=1, help="Seeded searches per sampler."),
    first_seed: int = typer.Option(0, "--first-seed", min=0, help="Seed of the first search."),
    objectives: str = typer.Option("accuracy", "--objectives", help="accuracy, or latency (two objectives)."),
    params: str = typer.Option("{}", "--params", help='JSON: sampler -> params, e.g. {"tpe": {...}}.'),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Processes."),
    zc_proxies: str = typer.Option("nwot", "--zc-proxies", help="Proxies of zc-warmstart (comma list)."),
    zc_pool: int = typer.Option(50, "--zc-pool", min=1, help="Pool scored per seed by zc-warmstart."),
    out: Path = typer.Option(Path("bench-search"), "--out", help="Folder for results.csv, regret.png, table.md."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
) -> None:
    """Seeded searches per sampler on the NAS-Bench-201 table; print the mean ± 95% CI table."""
    from nas.bench.search import (
        parse_params,
        parse_queries,
        parse_samplers,
        run_search_benchmark,
    )
    from nas.errors import ConfigError
    from nas.tasks import default_data_dir

    if space != "nb201":
        raise ConfigError(f"--space: '{space}' has no tabular benchmark; allowed: nb201")
    result = run_search_benchmark(
        dataset, parse_samplers(sampler), parse_queries(queries), seeds=seeds,
        first_seed=first_seed, objectives=objectives, params=parse_params(params), jobs=jobs,
        out=out, data_dir=data_dir if data_dir is not None else default_data_dir(),
        zc_proxies=zc_proxies.split(","), zc_pool=zc_pool,
    )
    typer.echo(result.table)
    typer.echo(f"wall time {result.wall_seconds:.0f} s; files in {result.out}/")
