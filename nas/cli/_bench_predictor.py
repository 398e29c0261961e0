"""``nas bench predictor``: how well a learned predictor ranks NAS-Bench-201 from n labels.

A front end to :func:`nas.bench.predictor.run_predictor_benchmark`; prints
Spearman and Kendall on the held-out architectures per number of labels,
with graph features and (given ``--proxy-scores``) with proxy features.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._bench import bench_app


@bench_app.command("predictor")
def bench_predictor(
    space: str = typer.Option("nb201", "--space", help="Search space with a tabular benchmark: nb201."),
    dataset: str = typer.Option("cifar10", "--dataset", help="cifar10, cifar100 or imagenet16."),
    labels: str = typer.Option("25,50,100,200", "--labels", help="Comma list of label counts."),
    seeds: int = typer.Option(10, "--seeds", min=1, help="Seeded draws of labels per count."),
    first_seed: int = typer.Option(0, "--first-seed", min=0, help="Seed of the first draw."),
    model: str = typer.Option("pairwise", "--model", help="pairwise, gbm, rf or gp."),
    proxy_scores: Path = typer.Option(
        None, "--proxy-scores",
        help="scores.jsonl of benchmarks/proxy_correlation.py: adds proxy features (on its archs)."),
    proxies: str = typer.Option("synflow,jacob_cov,nwot,meco", "--proxies",
                                help="Proxies read from --proxy-scores (comma list)."),
    out: Path = typer.Option(None, "--out", help="Folder for results.csv and table.md."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
) -> None:
    """Spearman and Kendall of a predictor trained on n labelled NAS-Bench-201 architectures."""
    from nas.bench.predictor import parse_labels, run_predictor_benchmark
    from nas.errors import ConfigError
    from nas.tasks import default_data_dir

    if space != "nb201":
        raise ConfigError(f"--space: '{space}' has no tabular benchmark; allowed: nb201")
    result = run_predictor_benchmark(
        dataset, parse_labels(labels), seeds=seeds, first_seed=first_seed, model=model,
        proxy_scores=proxy_scores, proxies=[p for p in proxies.split(",") if p],
        out=out, data_dir=data_dir if data_dir is not None else default_data_dir(),
    )
    typer.echo(result.table)
    typer.echo(f"wall time {result.wall_seconds:.0f} s" + (f"; files in {out}/" if out else ""))
