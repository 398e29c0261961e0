"""Per-step cost of NB201 supernet training (uniform SPOS), mixed network vs the generic path.

    python benchmarks/nb201_supernet_step.py --batch-size 2 --image-size 4 --generic

Runs ``SupernetTrainer.step`` on real CIFAR-10-subset batches and prints the
median milliseconds per step (over ``--repeats`` runs of ``--steps`` steps)
for the NB201 supernet's persistent mixed network and, with ``--generic``,
for the generic template + ``functional_call`` path it replaced. It also
prints the aten operators dispatched per step (forward, backward, clipping and
the optimiser): on a GPU each is roughly one kernel launch, so the count bounds
what a step costs there when Python is not the limit.

With ``--image-size 4 --batch-size 2`` the compute is negligible and the step
time is the Python and dispatch overhead, which a GPU run pays on the host per
step (a GPU adds its kernel launches; SGD and clipping use foreach kernels there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--generic", action="store_true", help="Also time the generic path.")
    parser.add_argument("--image-size", type=int, default=32,
                        help="Average-pool the images to this size (4: compute is negligible, "
                             "the step time is the host overhead a GPU run pays).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from nas.tasks import create_task
    from search_spaces import create_space
    from supernets import Supernet, create_supernet
    from supernets.training import SupernetSettings, SupernetTrainer

    space = create_space("nb201", {})
    params = {"batch_size": args.batch_size, "val_size": 500}
    if args.data_dir:
        params["data_dir"] = args.data_dir
    task = create_task("cifar10-subset", seed=0, **params)
    spec = task.prepare(args.device)
    settings = SupernetSettings.from_mapping({"epochs": 1, "sampling": "uniform",
                                              "optimizer": "sgd", "lr": 0.05, "distill": False})
    batches = list(zip(range(args.steps + 5), task.train_batches(1)))
    if args.image_size != spec.input_size:
        from search_spaces import Batch

        pool = torch.nn.AdaptiveAvgPool2d(args.image_size)
        batches = [(i, Batch((pool(b.inputs[0]),), b.targets)) for i, b in batches]
    kinds = {"mixed": None}
    if args.generic:
        kinds["generic"] = Supernet

    for label, generic in kinds.items():
        supernet = create_supernet(space, spec, seed=0).to(args.device)
        if generic is not None:  # the generic machinery's own methods, on the same layers
            for name in ("set_active", "forward", "recalibrate_bn"):
                setattr(supernet, name, getattr(generic, name).__get__(supernet))
        trainer = SupernetTrainer(supernet, task, settings, seed=0)
        supernet.train()
        for _, batch in batches[:5]:
            trainer.step(batch)
        times = []
        for _ in range(args.repeats):
            _sync(args.device)
            tick = time.perf_counter()
            for _, batch in batches[5:]:
                trainer.step(batch)
            _sync(args.device)
            times.append((time.perf_counter() - tick) / args.steps * 1000)
        ops = _ops_per_step(trainer, batches[5][1])
        print(f"{label}: {statistics.median(times):.1f} ms/step at batch {args.batch_size}, "
              f"{args.image_size}x{args.image_size} images on {args.device} (runs: {', '.join(f'{t:.1f}' for t in times)}); "
              f"{ops} aten ops/step")


def _ops_per_step(trainer: object, batch: object) -> int:
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    with Count():
        trainer.step(batch)  # type: ignore[attr-defined]
    return Count.calls


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
