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
from nas.cli._output import FORMAT_HELP, Format, print_csv, print_json


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
    warm_start: str = typer.Option(
        None, "--warm-start",
        help="DATASET[:QUERIES]: also run each sampler warm-started from its finished search "
             "of QUERIES (default 100) on DATASET, same seed; rows marked '← DATASET:QUERIES'."),
    out: Path = typer.Option(Path("bench-search"), "--out", help="Folder for results.csv, regret.png, table.md."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
) -> None:
    """Seeded searches per sampler on the NAS-Bench-201 table; print the mean ± 95% CI table.

    The figure is the test accuracy (in %) of the architecture with the best validation
    accuracy so far, or, with `--objectives latency`, the hypervolume of (validation
    accuracy, edge-GPU latency) scaled to the table's ranges. json and csv give one
    record per sampler and query count.
    """
    from nas.bench.search import (
        parse_params,
        parse_queries,
        parse_samplers,
        parse_warm_start,
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
        warm_start=parse_warm_start(warm_start),
    )
    if fmt == Format.table:
        typer.echo(result.table)
        typer.echo(f"wall time {result.wall_seconds:.0f} s; files in {result.out}/")
        return
    records = _records(result.runs, parse_queries(queries), objectives)
    if fmt == Format.json:
        print_json(records)
    else:
        print_csv(records)


def _records(runs: list[dict], queries: list[int], objectives: str) -> list[dict]:
    """Mean and 95% CI half-width per sampler and query count (as in the table)."""
    import numpy as np

    from nas.bench.search import confidence, run_label

    figure = "hypervolume" if objectives == "latency" else "best_test_accuracy_percent"
    records = []
    for sampler in dict.fromkeys(run_label(r) for r in runs):
        mine = [r for r in runs if run_label(r) == sampler]
        for q in sorted(set(queries)):
            mean, half = confidence(np.array([r["curve"][q - 1] for r in mine]))
            records.append({
                "sampler": mine[0]["sampler"], "warm_start": mine[0]["warm_start"], "queries": q, "figure": figure, "mean": mean,
                "ci95_half_width": half, "seeds": len(mine),
                "search_seconds_per_seed": float(np.mean([r["search_seconds"] for r in mine])),
                "proxy_seconds_per_seed": float(np.mean([r["proxy_seconds"] for r in mine])),
            })
    return records
