"""How noisy is the GNN ranking's standalone reference, and which supernet training ranks best?

The figures behind the ``("gnn", "cora")`` preset of :mod:`nas.bench.supernet_ranking`.
Two parts, both on the preset's 30 seeded architectures (``nas bench supernet
--space gnn --task cora --n-archs 30`` draws the same ones):

``reference``: trains every architecture standalone from ``--seeds`` seeds for
``--epochs`` epochs without early stopping, keeps each epoch's validation
accuracy and loss, and prints how well the standalone scores agree with
themselves (Kendall tau of one seed vs another, and of the mean of half the
seeds vs the mean of the other half) for several ways of reading a run:
best validation accuracy within N epochs (with or without patience-20 early
stopping, the old preset), the accuracy of the best-loss epoch, the best loss.

``supernet``: trains the supernet with each ``--variants`` sampling rule from
``--supernet-seeds`` seeds and prints the Kendall tau of its scores against
the reference the preset uses (mean over 3 seeds of the best validation
accuracy within 100 epochs).

Runs ``--jobs`` processes at a time (one thread each)::

    python benchmarks/gnn_ranking_study.py --jobs 2
    python benchmarks/gnn_ranking_study.py --part supernet --variants fair,sandwich --supernet-seeds 0,1

Measured (30 archs, 6 standalone seeds, 4 supernet seeds; the figures in the preset's comment):
one seed vs another 0.59 with patience 20, 0.79 without (100 epochs); mean of
3 vs mean of 3 0.88. Supernet tau vs the mean-of-3 reference at 300 epochs:
fair 0.53-0.70, sandwich(4 random) 0.43, 6 random 0.54-0.57.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_ARCHS = 30
#: sampling rules compared (``random6``: 6 uniform subnets per step, the sandwich's compute)
VARIANTS = {
    "fair": {"sampling": "fair"},
    "sandwich": {"sampling": "sandwich", "n_random": 4, "distill": False},
    "random6": {"sampling": "sandwich", "n_random": 4, "distill": False, "random": 6},
}


def _setup(data_dir: str):
    from nas.bench.supernet_ranking import prepare, preset_for, seeded_archs

    preset = preset_for("gnn", "cora")
    space, task, _ = prepare("gnn", "cora", preset, seed=0, data_dir=data_dir, device="cpu")
    return preset, space, task, seeded_archs(space, N_ARCHS, 0)  # as rank_supernet(seed=0)


def standalone_curves(data_dir: str, seed: int, epochs: int) -> dict[str, dict[str, list[float]]]:
    """Per arch: validation accuracy and loss after every epoch (benchmark seeds: ``i + 1000 s``)."""
    import torch

    from nas.train import seed_everything

    torch.set_num_threads(1)
    _, space, task, archs = _setup(data_dir)
    out = {}
    for index, arch in enumerate(archs):
        seed_everything(index + 1000 * seed)
        model = space.build(arch, task.spec)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        acc, loss = [], []
        for epoch in range(1, epochs + 1):
            model.train()
            for batch in task.train_batches(epoch):
                optimizer.zero_grad(set_to_none=True)
                task.loss(model(*batch.inputs), batch).backward()
                optimizer.step()
            val = task.evaluate_splits(model, ("val",))["val"]
            acc.append(val["accuracy"])
            loss.append(val["loss"])
        out[arch.key] = {"acc": acc, "loss": loss}
    return out


def supernet_scores(data_dir: str, variant: str, seed: int, epochs: int) -> dict[str, float]:
    """Supernet validation accuracy of every arch after ``epochs`` of ``variant`` training."""
    import torch

    from nas.bench.supernet_ranking import ranking_evaluator, score_archs
    from nas.supernet.trainer import SupernetSettings, SupernetTrainer
    from supernets import create_supernet
    from supernets.sampling import random_arch

    torch.set_num_threads(1)
    preset, space, task, archs = _setup(data_dir)
    table = dict(VARIANTS[variant])
    n_random = table.pop("random", 0)
    settings = SupernetSettings.from_mapping(dict(preset.supernet, **table, epochs=epochs))
    torch.manual_seed(seed)
    supernet = create_supernet(space, task.spec, seed=seed)
    trainer = SupernetTrainer(supernet, task, settings, seed=seed)
    if n_random:
        trainer.draw = lambda: [random_arch(space, trainer.rng) for _ in range(n_random)]
    while trainer.epoch < epochs:
        trainer.run_epoch()
    evaluator = ranking_evaluator(space, task, preset, seed=seed)
    scores, _ = score_archs(evaluator, supernet, archs)
    return {a.key: score for a, score in zip(archs, scores)}


def _best(curve: dict[str, list[float]], rule: str, epochs: int) -> float:
    import numpy as np

    acc, loss = np.array(curve["acc"][:epochs]), np.array(curve["loss"][:epochs])
    if rule == "best acc, patience 20":
        best, best_epoch = -1.0, 0
        for epoch, value in enumerate(acc):
            if value > best:
                best, best_epoch = value, epoch
            if epoch - best_epoch >= 20:
                break
        return float(best)
    if rule == "best acc":
        return float(acc.max())
    if rule == "acc at best loss":
        return float(acc[loss.argmin()])
    return float(-loss.min())  # "best loss"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("reference", "supernet", "both"), default="both")
    parser.add_argument("--seeds", type=int, default=6, help="standalone seeds (at least 3)")
    parser.add_argument("--epochs", type=int, default=100, help="standalone epochs")
    parser.add_argument("--variants", default="fair,sandwich,random6")
    parser.add_argument("--supernet-seeds", default="0,1")
    parser.add_argument("--supernet-epochs", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=os.environ.get("NAS_DATA_DIR", "../shared/data"))
    parser.add_argument("--cache", default="bench-gnn-ranking", help="folder for the curves")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    from scipy.stats import kendalltau

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    tau = lambda a, b: float(kendalltau(a, b).statistic)  # noqa: E731
    with ProcessPoolExecutor(args.jobs) as pool:
        jobs = {}
        for seed in range(args.seeds):
            path = cache / f"standalone-seed{seed}-{args.epochs}.json"
            if not path.exists():
                jobs[path] = pool.submit(standalone_curves, args.data_dir, seed, args.epochs)
        if args.part != "reference":
            for variant, seed in itertools.product(args.variants.split(","),
                                                   map(int, args.supernet_seeds.split(","))):
                path = cache / f"supernet-{variant}-seed{seed}-{args.supernet_epochs}.json"
                if not path.exists():
                    jobs[path] = pool.submit(supernet_scores, args.data_dir, variant, seed,
                                             args.supernet_epochs)
        for path, job in jobs.items():
            path.write_text(json.dumps(job.result()))
    curves = [json.loads((cache / f"standalone-seed{s}-{args.epochs}.json").read_text())
              for s in range(args.seeds)]
    keys = list(curves[0])
    if args.part != "supernet":
        print(f"standalone vs itself ({len(keys)} archs, {args.seeds} seeds), Kendall tau:")
        full = args.epochs
        for rule, epochs in (("best acc, patience 20", full), ("best acc", full // 2),
                             ("best acc", full), ("acc at best loss", full), ("best loss", full)):
            scores = [np.array([_best(c[k], rule, epochs) for k in keys]) for c in curves]
            one = [tau(a, b) for a, b in itertools.combinations(scores, 2)]
            half = args.seeds // 2
            halves = [tau(np.mean([scores[i] for i in part], 0),
                          np.mean([scores[i] for i in range(args.seeds) if i not in part], 0))
                      for part in itertools.combinations(range(args.seeds), half) if 0 in part]
            print(f"  {rule:22s} {epochs:3d} epochs: one seed vs one {np.mean(one):.3f} "
                  f"[{min(one):.2f}, {max(one):.2f}]; mean of {half} vs mean of "
                  f"{args.seeds - half} {np.mean(halves):.3f}")
    if args.part != "reference":
        reference = np.mean([[_best(c[k], "best acc", args.epochs) for k in keys]
                             for c in curves[:3]], 0)
        print(f"supernet vs the reference (mean of 3 seeds, best val accuracy in {args.epochs} "
              "epochs, the preset's):")
        for variant in args.variants.split(","):
            taus = []
            for seed in map(int, args.supernet_seeds.split(",")):
                path = cache / f"supernet-{variant}-seed{seed}-{args.supernet_epochs}.json"
                scores = json.loads(path.read_text())
                taus.append(tau([scores[k] for k in keys], reference))
            print(f"  {variant:9s} {args.supernet_epochs} epochs, seeds {args.supernet_seeds}: "
                  f"Kendall tau {', '.join(f'{t:.3f}' for t in taus)} (mean {np.mean(taus):.3f})")


if __name__ == "__main__":
    main()
