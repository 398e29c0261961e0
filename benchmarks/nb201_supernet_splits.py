"""How much an NB201 supernet's tau owes to its 500 validation images: tau per split and score.

    OMP_NUM_THREADS=1 python benchmarks/nb201_supernet_splits.py runs/nb201-fair/supernet-e100.pt

Loads a checkpoint (from ``nas bench supernet`` or ``nb201_supernet_curve.py --out``),
scores the benchmark's seeded architectures the way the benchmark does (BN
recalibrated on ``--bn-batches`` training batches) and, with the same
recalibrated statistics, evaluates each on the validation split (500 images
by default) and on the 2,000-image test split. Prints Kendall tau against the
table's CIFAR-10 validation accuracy for accuracy and for loss on each split,
with the 95% bootstrap interval over architectures. A tau that holds on the
larger test split is worth more than one that only holds on the validation
images. About 5 min for 200 archs on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--n-archs", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=None, help="32, 16 or 8 (preset's).")
    parser.add_argument("--val-size", type=int, default=None)
    parser.add_argument("--bn-batches", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from scipy.stats import kendalltau

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
    from nas.supernet.from_study import load_supernet

    preset = with_overrides(preset_for("nb201", "cifar10-subset"), image_size=args.image_size,
                            val_size=args.val_size, bn_batches=args.bn_batches)
    space, task, _ = prepare("nb201", "cifar10-subset", preset, seed=args.seed,
                             data_dir=args.data_dir, device="cpu")
    archs = seeded_archs(space, args.n_archs, args.seed)
    reference = table_accuracies(archs, args.seed, args.data_dir)
    evaluator = ranking_evaluator(space, task, preset, seed=args.seed)
    supernet = load_supernet(args.checkpoint, space, task)
    scores, _ = score_archs_by_metric(evaluator, supernet, archs, splits=("val", "test"))
    print(f"{args.checkpoint}: {len(archs)} archs, tau against the table "
          "(95% interval over archs)")
    for key, values in scores.items():
        low, high = kendall_interval(values, reference, seed=args.seed)
        print(f"  {key.replace('_', ' '):>14}: {kendalltau(values, reference).statistic:.3f} "
              f"({low:.2f} to {high:.2f})")


if __name__ == "__main__":
    main()
