"""``nas bench family``: the searched model against hand-designed ones, same recipe and seeds.

A front end to :func:`nas.bench.family.run_family_benchmark`: runs (or
resumes) a study file's search under ``--out``, retrains its best trial and
every baseline of the space (``[space] baseline = NAME``) with the study's
final evaluator and the same seeds, and prints each one's test metric, the
searched model's margin over each baseline and the search cost.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._bench import bench_app
from nas.cli._output import FORMAT_HELP, Format, print_csv, print_json


@bench_app.command("family")
def bench_family(
    study_file: Path = typer.Argument(..., help="Study file (TOML) whose search is measured."),
    task: str = typer.Option(None, "--task", help="Run the same study file on another task."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Retraining seeds per network."),
    first_seed: int = typer.Option(0, "--first-seed", min=0, help="Seed of the first retraining."),
    n_trials: int = typer.Option(None, "--n-trials", min=1, help="Override the study's budget."),
    baselines: str = typer.Option(
        None, "--baselines",
        help="Comma list of the space's baselines to train (default: all of them; '' for none)."),
    within_params: str = typer.Option(
        None, "--within-params",
        help="Pick the best trial among those with at most this many parameters: a count "
             "(270000, 0.27M) or a baseline's name (e.g. resnet20)."),
    finalists: int = typer.Option(
        3, "--finalists", min=1,
        help="Retrain this many of the best trials with every seed and keep the best by mean "
             "validation (1: the search's best as it is)."),
    arch: str = typer.Option(
        None, "--arch", help="JSON architecture to retrain instead of searching (e.g. a best trial's); "
             "choices it leaves out take the study space's default."),
    skip_search: bool = typer.Option(False, "--skip-search", help="Train the baselines only."),
    out: Path = typer.Option(
        None, "--out",
        help="Folder for the search's store and retrain.jsonl (default bench-family/STUDY_NAME); "
             "rerunning resumes."),
    device: str = typer.Option("cpu", "--device", help="Device of the retrainings: cpu, cuda, auto."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
) -> None:
    """Search with a study file, then retrain its best model and the space's hand-designed
    baselines by the same recipe and seeds; print test metric, margins and search cost."""
    import logging

    from nas.architecture import Architecture
    from nas.bench.family import format_table, run_family_benchmark, with_task
    from nas.config import load_study_file
    from nas.device import resolve_device
    from nas.errors import ConfigError, InvalidArchitecture

    logging.getLogger("optuna").setLevel(logging.WARNING)
    config = load_study_file(study_file)
    if task:
        config = with_task(config, task)
    config = config.with_overrides(n_trials=n_trials, data_dir=data_dir)
    given = None
    if arch is not None:
        try:
            given = Architecture.from_json(arch).to_dict()
        except InvalidArchitecture as exc:
            raise ConfigError(f"--arch: {exc}") from None
    names = None if baselines is None else [b.strip() for b in baselines.split(",") if b.strip()]
    quiet = fmt != Format.table
    result = run_family_benchmark(
        config, out=out if out is not None else Path("bench-family") / config.name,
        seeds=seeds, first_seed=first_seed, baselines=names, arch=given, skip_search=skip_search,
        within_params=within_params, finalists=finalists, device=resolve_device(device),
        progress=not quiet,
        log=(lambda _line: None) if quiet else typer.echo,
    )
    if fmt == Format.json:
        print_json({"study": result.study, "task": result.task, "metric": result.metric,
                    "higher_is_better": result.higher_is_better, "recipe": result.recipe,
                    "rows": result.to_records(),
                    "search": None if result.cost is None else vars(result.cost)})
    elif fmt == Format.csv:
        print_csv([{k: v for k, v in r.items() if k not in ("seeds", "test", "val")}
                   for r in result.to_records()])
    else:
        typer.echo("")
        typer.echo(format_table(result))
