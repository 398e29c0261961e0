"""``nas bench supernet``: how well a supernet's ranking agrees with standalone training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nas.cli._app import console
from nas.cli._bench import bench_app
from nas.cli._output import FORMAT_HELP, Format, print_csv, print_json

if TYPE_CHECKING:  # the bench modules import torch; `nas --help` must not
    from nas.bench.supernet_ranking import RankingResult


@bench_app.command("supernet")
def bench_supernet(
    space: str = typer.Option(..., "--space", help="Search space: gnn, nb201, mobilenet, vit, charlm."),
    task: str = typer.Option(..., "--task", help="Task, e.g. cora or cifar10-subset."),
    n_archs: int = typer.Option(30, "--n-archs", help="Seeded random architectures to rank."),
    seed: int = typer.Option(0, "--seed", help="Seed of the supernet, the sample and the training."),
    out: Path = typer.Option(Path("bench-supernet"), "--out", help="Folder for ranking.csv and summary.csv."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Load this supernet instead of training one."),
    epochs: int = typer.Option(None, "--epochs", help="Supernet training epochs (preset by default)."),
    max_batches: int = typer.Option(None, "--max-batches", help="Supernet batches per epoch (0: all)."),
    sampling: str = typer.Option(None, "--sampling", help="Supernet sampling: uniform, sandwich or fair."),
    n_random: int = typer.Option(None, "--n-random", help="Sandwich rule: random subnets per step."),
    distill: bool = typer.Option(None, "--distill/--no-distill", help="In-place distillation."),
    lr: float = typer.Option(None, "--lr", help="Supernet learning rate (preset by default)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Task batch size (preset by default)."),
    standalone_epochs: int = typer.Option(
        None, "--standalone-epochs",
        help="Standalone training budget (a preset without early stopping keeps none)."),
    standalone_patience: int = typer.Option(
        None, "--standalone-patience", min=1,
        help="Standalone early stopping: epochs without a better validation score."),
    standalone_seeds: int = typer.Option(
        None, "--standalone-seeds", min=1,
        help="Standalone trainings per arch (their mean is the reference); preset by default."),
    standalone_jobs: int = typer.Option(
        1, "--standalone-jobs", min=1,
        help="Standalone trainings run at once, each in its own process with an equal share "
             "of the cores. Finished runs are kept in OUT/standalone_runs.jsonl, so a rerun "
             "trains only what is missing."),
    standalone_settings: str = typer.Option(
        None, "--standalone-settings",
        help="JSON object of more standalone training settings (the train evaluator's "
             "params), e.g. '{\"schedule\": \"cosine\", \"warmup\": 0.05}'."),
    task_params: str = typer.Option(
        None, "--task-params",
        help="JSON object merged over the preset's task parameters (both the supernet and "
             "standalone training), e.g. '{\"seq_len\": 64, \"eval_tokens\": 65536}'."),
    space_choices: str = typer.Option(
        None, "--space-choices",
        help="JSON object of choices merged over the preset's narrowing of the space (the "
             "architectures sampled, the supernet and the reference), e.g. "
             "'{\"depth\": [1, 2, 3, 4, 5, 6]}'."),
    train_size: int = typer.Option(None, "--train-size", help="Image tasks: training images used."),
    val_size: int = typer.Option(None, "--val-size", help="Image tasks: validation images."),
    image_size: int = typer.Option(None, "--image-size", help="Image tasks: 32, 16 or 8 pixels."),
    bn_batches: int = typer.Option(None, "--bn-batches", help="Batches for BN recalibration."),
    reuse_standalone: Path = typer.Option(
        None, "--reuse-standalone",
        help="Folder of an earlier run (same space, task, seed): reuse its standalone scores."),
    supernet_seeds: str = typer.Option(
        None, "--supernet-seeds",
        help="Comma list of 2+ seeds: train one supernet per seed and score each arch by the "
             "mean of their scores (an ensemble; training and scoring cost the members' sum)."),
    split_on: str = typer.Option(
        None, "--split-on",
        help="Comma list of choices: few-shot, one supernet per combination of their values, "
             "each architecture scored by its own (e.g. batch_norm,propagation_steps); "
             "'none': one-shot. Default: the preset's (gnn/cora splits on three choices)."),
    split_epochs: int = typer.Option(
        0, "--split-epochs",
        help="With --split-on: train the one-shot supernet first, start each group from its "
             "weights and train it this many epochs (few-shot NAS's warm start); 0: each "
             "group from scratch for the preset's epochs."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
) -> None:
    """Train (or load) a supernet, score N architectures with it and standalone; print Kendall tau."""
    import logging

    from nas.bench.supernet_ranking import preset_for, rank_supernet, with_overrides
    from nas.device import resolve_device

    logging.getLogger("nas.bench").setLevel(logging.INFO)  # supernet_ranking and standalone_runs
    preset = with_overrides(preset_for(space, task), epochs=epochs, max_batches=max_batches,
                            sampling=sampling, n_random=n_random, distill=distill, lr=lr,
                            batch_size=batch_size,
                            standalone_epochs=standalone_epochs,
                            standalone_patience=standalone_patience,
                            standalone_seeds=standalone_seeds, train_size=train_size,
                            val_size=val_size, image_size=image_size, bn_batches=bn_batches,
                            task_params=_json_object(task_params, "--task-params"),
                            space_choices=_json_object(space_choices, "--space-choices"),
                            standalone_settings=_train_settings(standalone_settings))
    if space_choices:
        _check_space_choices(space, preset.space_choices)
    result = rank_supernet(space, task, n_archs, out, seed=seed, preset=preset,
                           checkpoint=checkpoint, data_dir=data_dir, device=resolve_device(device),
                           reuse_standalone=reuse_standalone,
                           supernet_seeds=_seeds(supernet_seeds),
                           split_on=_split_on(split_on),
                           split_epochs=split_epochs,
                           standalone_jobs=standalone_jobs)
    if fmt != Format.table:
        record = {
            "space": space, "task": task, "n": result.n, "kendall": result.kendall,
            "spearman": result.spearman, "kendall_ci95_low": result.kendall_interval[0],
            "kendall_ci95_high": result.kendall_interval[1],
            "standalone_seeds": result.standalone_seeds,
            "standalone_self_kendall": result.standalone_self_kendall,
            "standalone_half_kendall": result.standalone_half_kendall,
            "loss_kendall": result.loss_kendall, "params_kendall": result.params_kendall,
            "params_ci95_low": result.params_interval[0],
            "params_ci95_high": result.params_interval[1],
            "flops_kendall": result.flops_kendall, "flops_ci95_low": result.flops_interval[0],
            "flops_ci95_high": result.flops_interval[1],
            "above_params": result.above_params, "above_flops": result.above_flops,
            "supernet_train_seconds": result.supernet_train_seconds,
            "supernet_seconds_per_arch": result.supernet_seconds_per_arch,
            "standalone_seconds_per_arch": result.standalone_seconds_per_arch,
            "speedup": result.speedup, "speedup_at_least_50": result.fast_enough,
            "member_kendalls": list(result.member_kendalls),
            "split_on": list(result.split_on), "split_epochs": result.split_epochs,
            "reference_trusted": result.reference_trusted,
            "out": str(out),
        }
        if fmt == Format.json:
            print_json(record)
        else:
            print_csv([record])
        return
    console().print(report_text(space, task, result, out))


def _check_space_choices(space: str, choices: dict[str, Any]) -> None:
    """``--space-choices`` names real choices with allowed values, said before any work starts."""
    from nas.errors import ConfigError
    from search_spaces import SPACES

    space_class = SPACES.get(space)  # an unknown space is its own one-line error
    try:
        space_class(choices)
    except ConfigError as error:
        raise ConfigError(f"--space-choices: {str(error).removeprefix('space.choices.')}") from None


def _json_object(text: str | None, flag: str) -> dict[str, Any]:
    """A flag's JSON object (none given: empty); anything else is a one-line error."""
    import json

    from nas.errors import ConfigError

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{flag}: not JSON ({error.msg} at character {error.pos}): {text}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: must be a JSON object such as '{{\"key\": 1}}', got {text}")
    return value


def _train_settings(text: str | None) -> dict[str, Any]:
    """``--standalone-settings``: only fields training knows, with values it accepts."""
    from nas.errors import ConfigError
    from nas.train import SETTING_KINDS, TrainSettings, check_kinds

    settings = _json_object(text, "--standalone-settings")
    unknown = [name for name in settings if name not in SETTING_KINDS]
    if unknown:
        raise ConfigError(f"--standalone-settings: unknown setting '{unknown[0]}'; allowed: "
                          f"{', '.join(SETTING_KINDS)}")
    check_kinds(settings, SETTING_KINDS, "--standalone-settings: ")
    try:
        TrainSettings(**settings).check()
    except ConfigError as error:  # name the flag, not the study-file key check() names
        raise ConfigError(f"--standalone-settings: {error}".replace("evaluator.params.", "")) from None
    return settings


def _split_on(text: str | None) -> list[str] | None:
    """``--split-on``: choice names (``None``, not given: the preset's; ``none``: one-shot)."""
    if text is None:
        return None
    if text.strip().lower() == "none":
        return []
    return [n.strip() for n in text.split(",") if n.strip()]


def _seeds(text: str | None) -> list[int]:
    """``--supernet-seeds``: a comma list of whole numbers (none given: one supernet)."""
    from nas.errors import ConfigError

    if not text:
        return []
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--supernet-seeds: '{text}' is not a comma list of whole numbers, "
                          "e.g. 0,1,2") from None


def report_text(space: str, task: str, result: RankingResult, out: Path) -> str:
    """The table-format report: tau and its interval, the free baselines beside it, the
    reference's self-agreement, then the verdict issue 21 asks for in one line."""
    from nas.bench.ranking_report import MIN_REFERENCE_AGREEMENT, MIN_SPEEDUP, yes_no

    def interval(bounds: tuple[float, float]) -> str:
        return f"95% interval {bounds[0]:.2f} to {bounds[1]:.2f}"

    lines = [
        f"supernet {space}/{task}: n={result.n} kendall={result.kendall:.3f} "
        f"({interval(result.kendall_interval)} over archs) spearman={result.spearman:.3f}",
        f"parameter count alone: kendall={result.params_kendall:.3f} "
        f"({interval(result.params_interval)})",
        f"FLOPs alone:           kendall={result.flops_kendall:.3f} "
        f"({interval(result.flops_interval)})",
    ]
    if result.split_on:
        start = (f"each warm-started from one supernet and trained {result.split_epochs} epochs"
                 if result.split_epochs else "each trained from scratch")
        lines.append(f"few-shot: one supernet per value of {', '.join(result.split_on)}, {start}")
    if result.member_kendalls:
        lines.append(f"mean score of {len(result.member_kendalls)} supernets; each alone: kendall="
                     + ", ".join(f"{tau:.3f}" for tau in result.member_kendalls))
    if result.loss_kendall == result.loss_kendall:
        lines.append(f"scored by validation loss instead: kendall={result.loss_kendall:.3f}")
    if result.standalone_seeds > 1:
        lines.append(f"reference: mean of {result.standalone_seeds} standalone seeds; seed 0 vs "
                     f"seed 1: kendall={result.standalone_self_kendall:.3f}")
    if result.standalone_half_kendall == result.standalone_half_kendall:
        half, last = result.standalone_seeds // 2, result.standalone_seeds - 1
        first = "seed 0" if half == 1 else f"mean of seeds 0-{half - 1}"
        lines.append(f"{first} vs mean of seeds {half}-{last}: "
                     f"kendall={result.standalone_half_kendall:.3f}")
        if result.reference_trusted is False:
            lines.append(f"the reference disagrees with itself (below {MIN_REFERENCE_AGREEMENT}): "
                         "any tau against it is mostly noise; train each standalone longer "
                         "(--standalone-epochs) before reading the supernet's figure")
    lines.append(f"supernet training {result.supernet_train_seconds:.1f} s; scoring "
                 f"{result.supernet_seconds_per_arch:.3f} s/arch; standalone "
                 f"{result.standalone_seconds_per_arch:.3f} s/arch")
    speedup = "n/a" if result.speedup != result.speedup else f"{result.speedup:.0f}x"
    lines.append(f"verdict: interval above params tau: {yes_no(result.above_params)}; "
                 f"above FLOPs tau: {yes_no(result.above_flops)}; scoring {speedup} faster than "
                 f"training, at least {MIN_SPEEDUP:.0f}x: {yes_no(result.fast_enough)}; "
                 f"reference agrees with itself at tau >= {MIN_REFERENCE_AGREEMENT}: "
                 f"{yes_no(result.reference_trusted)}")
    lines.append(f"wrote {out / 'ranking.csv'} and {out / 'summary.csv'}")
    return "\n".join(lines)
