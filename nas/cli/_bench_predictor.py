"""``nas bench predictor``: how well a learned predictor ranks architectures from n labels.

A front end to :func:`nas.bench.predictor.run_predictor_benchmark` (``--space
nb201``: labels from the NAS-Bench-201 table, graph and proxy features) and,
given ``--task``, to
:func:`nas.bench.predictor_standalone.run_standalone_predictor_benchmark`
(labels from standalone training, e.g. ``--space gnn --task cora``, beside the
proxies', the supernet's and parameter count's ranking of the same held-out
architectures). Prints Spearman and Kendall on the held-out architectures.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._bench import bench_app


@bench_app.command("predictor")
def bench_predictor(
    space: str = typer.Option(
        "nb201", "--space",
        help="nb201 (its table) or, with --task, a nas bench supernet preset's space: gnn, ..."),
    task: str = typer.Option(
        None, "--task",
        help="Label by standalone training on this task (a nas bench supernet preset: gnn with "
             "cora); without it, --space nb201 labels from its table."),
    dataset: str = typer.Option("cifar10", "--dataset",
                                help="nb201 table: cifar10, cifar100 or imagenet16."),
    labels: str = typer.Option("25,50,100,200", "--labels", help="Comma list of label counts."),
    seeds: int = typer.Option(10, "--seeds", min=1, help="Seeded draws of labels per count."),
    first_seed: int = typer.Option(0, "--first-seed", min=0, help="Seed of the first draw."),
    model: str = typer.Option("pairwise", "--model", help="pairwise, gbm, rf or gp."),
    proxy_scores: Path = typer.Option(
        None, "--proxy-scores",
        help="nb201 table: scores.jsonl of benchmarks/proxy_correlation.py: adds proxy features."),
    proxies: str = typer.Option(
        "synflow,jacob_cov,nwot,meco", "--proxies",
        help="Proxies (comma list): read from --proxy-scores, or scored here with --task."),
    ensembles: str = typer.Option(
        "", "--ensembles",
        help="nb201 table with --proxy-scores: named proxy ensembles (comma list, e.g. "
             "vkdnw_meco_jacob_flops) added as features, each ranked over the file's architectures."),
    n_archs: int = typer.Option(
        None, "--n-archs", min=3,
        help="With --task: seeded architectures to label (default 200, or --supernet-run's)."),
    arch_seed: int = typer.Option(
        0, "--arch-seed", min=0,
        help="With --task: seed of the architecture draw and the training (nas bench supernet's --seed)."),
    supernet_run: Path = typer.Option(
        None, "--supernet-run",
        help="With --task: --out folder of an earlier nas bench supernet run (or OUT/supernet-run "
             "of this command): reuse its standalone and supernet scores instead of training."),
    standalone_seeds: int = typer.Option(
        None, "--standalone-seeds", min=1, help="With --task: standalone seeds (preset by default)."),
    standalone_epochs: int = typer.Option(
        None, "--standalone-epochs", min=1, help="With --task: standalone epochs (preset by default)."),
    supernet_epochs: int = typer.Option(
        None, "--supernet-epochs", min=1, help="With --task: supernet epochs (preset by default)."),
    out: Path = typer.Option(
        None, "--out", help="Folder for results.csv and table.md (with --task: bench-predictor)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
) -> None:
    """Spearman and Kendall of a predictor trained on n labelled architectures."""
    from nas.bench.predictor import parse_labels, run_predictor_benchmark
    from nas.errors import ConfigError
    from nas.tasks import default_data_dir

    proxy_names = [p for p in proxies.split(",") if p]
    if task is not None and ensembles:
        raise ConfigError("--ensembles: only with --space nb201 and --proxy-scores (the table's "
                          "benchmark); --task scores its proxies itself")
    if task is not None:
        import logging

        from nas.bench.predictor_standalone import run_standalone_predictor_benchmark
        from nas.bench.supernet_ranking import preset_for, with_overrides

        logging.getLogger("nas.bench.supernet_ranking").setLevel(logging.INFO)
        out = out if out is not None else Path("bench-predictor")
        preset = with_overrides(preset_for(space, task), epochs=supernet_epochs,
                                standalone_epochs=standalone_epochs,
                                standalone_seeds=standalone_seeds)
        result = run_standalone_predictor_benchmark(
            space, task, parse_labels(labels), seeds=seeds, first_seed=first_seed, model=model,
            proxies=proxy_names, out=out, n_archs=n_archs, arch_seed=arch_seed,
            supernet_run=supernet_run, preset=preset,
            data_dir=data_dir if data_dir is not None else default_data_dir(),
        )
    elif space != "nb201":
        raise ConfigError(f"--task: --space {space} has no table, so its labels need a task "
                          "to train on; allowed: --space nb201, or --task with a nas bench "
                          "supernet preset (e.g. --space gnn --task cora)")
    else:
        result = run_predictor_benchmark(
            dataset, parse_labels(labels), seeds=seeds, first_seed=first_seed, model=model,
            proxy_scores=proxy_scores, proxies=proxy_names,
            ensembles=[e for e in ensembles.split(",") if e], out=out,
            data_dir=data_dir if data_dir is not None else default_data_dir(),
        )
    typer.echo(result.table)
    typer.echo(f"wall time {result.wall_seconds:.0f} s" + (f"; files in {out}/" if out else ""))
