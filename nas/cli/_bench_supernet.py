"""``nas bench supernet``: how well a supernet's ranking agrees with standalone training."""

from __future__ import annotations

from pathlib import Path

import typer

from nas.cli._app import console
from nas.cli._bench import bench_app


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
    standalone_epochs: int = typer.Option(None, "--standalone-epochs", help="Standalone training budget."),
    standalone_seeds: int = typer.Option(
        None, "--standalone-seeds", min=1,
        help="Standalone trainings per arch (their mean is the reference); preset by default."),
    train_size: int = typer.Option(None, "--train-size", help="Image tasks: training images used."),
    val_size: int = typer.Option(None, "--val-size", help="Image tasks: validation images."),
    image_size: int = typer.Option(None, "--image-size", help="Image tasks: 32, 16 or 8 pixels."),
    bn_batches: int = typer.Option(None, "--bn-batches", help="Batches for BN recalibration."),
    reuse_standalone: Path = typer.Option(
        None, "--reuse-standalone",
        help="Folder of an earlier run (same space, task, seed): reuse its standalone scores."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
) -> None:
    """Train (or load) a supernet, score N architectures with it and standalone; print Kendall tau."""
    import logging

    from nas.bench.supernet_ranking import preset_for, rank_supernet, with_overrides
    from nas.device import resolve_device

    logging.getLogger("nas.bench.supernet_ranking").setLevel(logging.INFO)
    preset = with_overrides(preset_for(space, task), epochs=epochs, max_batches=max_batches,
                            sampling=sampling, n_random=n_random, distill=distill, lr=lr,
                            batch_size=batch_size,
                            standalone_epochs=standalone_epochs,
                            standalone_seeds=standalone_seeds, train_size=train_size,
                            val_size=val_size, image_size=image_size, bn_batches=bn_batches)
    result = rank_supernet(space, task, n_archs, out, seed=seed, preset=preset,
                           checkpoint=checkpoint, data_dir=data_dir, device=resolve_device(device),
                           reuse_standalone=reuse_standalone)
    speedup = result.standalone_seconds_per_arch / result.supernet_seconds_per_arch
    console().print(
        f"supernet {space}/{task}: n={result.n} kendall={result.kendall:.3f} "
        f"spearman={result.spearman:.3f} (kendall's 95% bootstrap interval over archs: "
        f"{result.kendall_interval[0]:.2f} to {result.kendall_interval[1]:.2f})\n"
        f"supernet training {result.supernet_train_seconds:.1f} s; scoring "
        f"{result.supernet_seconds_per_arch:.3f} s/arch; standalone "
        f"{result.standalone_seconds_per_arch:.3f} s/arch"
        + ("" if speedup != speedup else f" ({speedup:.0f}x slower)")
        + ("" if result.standalone_self_kendall != result.standalone_self_kendall else
           f"\nstandalone vs itself (seed 0 vs seed 1): kendall={result.standalone_self_kendall:.3f}")
        + ("" if result.loss_kendall != result.loss_kendall else
           f"\nscored by validation loss instead: kendall={result.loss_kendall:.3f}")
        + f"\nparameter count alone: kendall={result.params_kendall:.3f} (the baseline to beat)"
        + f"\nwrote {out / 'ranking.csv'} and {out / 'summary.csv'}"
    )
