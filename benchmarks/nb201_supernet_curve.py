"""How the NB201 supernet's ranking grows with training: Kendall tau against the table per epoch.

    OMP_NUM_THREADS=1 python benchmarks/nb201_supernet_curve.py --n-archs 200 --epochs 45 \\
        --eval-at 25,45 --out runs/nb201-fair

One training run (the ``nas bench supernet`` preset's settings: 16x16 images,
FairNAS sampling, cosine over ``--epochs``; ``--sampling``, ``--image-size``,
``--batch-size`` and ``--lr`` change them; on a GPU, e.g. ``--device cuda
--image-size 32 --batch-size 256 --lr 0.1 --epochs 150``); at each ``--eval-at`` epoch the same seeded
architectures are scored as the benchmark scores them (BN recalibrated on
``--bn-batches`` training batches, accuracy on the validation split) and
ranked against their NAS-Bench-201 CIFAR-10 validation accuracy. Prints one
line per evaluation: epoch, mean training loss, Kendall tau, Spearman rho,
and the seconds spent training so far.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--eval-at", default="", help="Comma-separated epochs (default: the last).")
    parser.add_argument("--n-archs", type=int, default=30)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--val-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--image-size", type=int, default=None, help="32, 16 or 8 (preset's).")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--sampling", default=None)
    parser.add_argument("--bn-batches", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None,
                        help="Folder for supernet-e<epoch>.pt at each --eval-at epoch "
                             "(rank one with nas bench supernet --checkpoint and the same options).")
    args = parser.parse_args()

    import numpy as np
    import torch
    from scipy.stats import kendalltau, spearmanr

    from nas.bench.supernet_ranking import (
        kendall_interval,
        prepare,
        preset_for,
        ranking_evaluator,
        score_archs_by_metric,
        seeded_archs,
        table_accuracies,
        with_overrides,
    )
    from nas.supernet.trainer import SupernetSettings, SupernetTrainer
    from supernets import create_supernet
    from supernets.checkpoint import save_checkpoint

    preset = with_overrides(preset_for("nb201", "cifar10-subset"), epochs=args.epochs, lr=args.lr,
                            batch_size=args.batch_size, image_size=args.image_size,
                            train_size=args.train_size, val_size=args.val_size, sampling=args.sampling,
                            bn_batches=args.bn_batches)
    torch.manual_seed(args.seed)
    space, task, spec = prepare("nb201", "cifar10-subset", preset, seed=args.seed,
                                data_dir=args.data_dir, device=args.device)
    archs = seeded_archs(space, args.n_archs, args.seed)
    reference = table_accuracies(archs, args.seed, args.data_dir)
    evaluator = ranking_evaluator(space, task, preset, seed=args.seed, device=args.device)

    settings = SupernetSettings.from_mapping(preset.supernet)
    supernet = create_supernet(space, spec, seed=args.seed).to(args.device)
    trainer = SupernetTrainer(supernet, task, settings, seed=args.seed)
    checkpoints = {int(e) for e in args.eval_at.split(",") if e} or {settings.epochs}
    print(f"nb201 supernet: {len(archs)} archs, batch {task.batch_size}, "
          f"{task.image_size}x{task.image_size} images, lr {settings.lr}, "
          f"{settings.sampling} sampling, {settings.epochs} epochs, device {args.device}")
    trained = 0.0
    while trainer.epoch < settings.epochs:
        tick = time.perf_counter()
        loss = trainer.run_epoch()
        trained += time.perf_counter() - tick
        if trainer.epoch not in checkpoints:
            continue
        if args.out:
            save_checkpoint(Path(args.out) / f"supernet-e{trainer.epoch}.pt", trainer.state_dict(),
                            supernet, task.name)
        by_metric, _ = score_archs_by_metric(evaluator, supernet, archs)
        scores = by_metric["val_accuracy"]
        supernet.train()
        low, high = kendall_interval(scores, reference, seed=args.seed)
        print(f"epoch {trainer.epoch}: loss {loss:.4f} "
              f"kendall {kendalltau(scores, reference).statistic:.3f} "
              f"(95% interval over archs {low:.2f} to {high:.2f}) "
              f"spearman {spearmanr(scores, reference).statistic:.3f} "
              f"by val loss kendall {kendalltau(by_metric['val_loss'], reference).statistic:.3f} "
              f"mean supernet accuracy {np.mean(scores):.3f} ({trained:.0f} s training)",
              flush=True)


if __name__ == "__main__":
    main()
