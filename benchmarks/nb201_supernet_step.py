"""Per-step cost of NB201 supernet training (uniform SPOS), mixed network vs the generic path.

    python benchmarks/nb201_supernet_step.py --batch-size 2 --image-size 4 --generic --standalone

Runs ``SupernetTrainer.step`` on real CIFAR-10-subset batches and prints the
median milliseconds per step (over ``--repeats`` runs of ``--steps`` steps)
for the NB201 supernet's persistent mixed network and, with ``--generic``,
for the generic template + ``functional_call`` path it replaced, and with
``--standalone`` for training prebuilt standalone models of random archs
with the same optimiser (the floor of any weight-sharing step; kinds are
timed interleaved so load changes hit them alike). It also
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
    parser.add_argument("--standalone", action="store_true",
                        help="Also time training standalone models of random archs (the floor).")
    parser.add_argument("--image-size", type=int, default=32,
                        help="Average-pool the images to this size (4: compute is negligible, "
                             "the step time is the host overhead a GPU run pays).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from nas.supernet.trainer import SupernetSettings
    from nas.tasks import create_task
    from search_spaces import create_space
    from supernets import Supernet

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
    steppers = {"mixed": _supernet_stepper(space, spec, task, settings, args.device, None)}
    if args.generic:
        steppers["generic"] = _supernet_stepper(space, spec, task, settings, args.device, Supernet)
    if args.standalone:
        steppers["standalone"] = _standalone_stepper(space, spec, task, settings, args.device)
    times: dict[str, list[float]] = {label: [] for label in steppers}
    for step in steppers.values():
        for _, batch in batches[:5]:
            step(batch)
    for _ in range(args.repeats):  # interleaved, so load changes hit every kind alike
        for label, step in steppers.items():
            _sync(args.device)
            tick = time.perf_counter()
            for _, batch in batches[5:]:
                step(batch)
            _sync(args.device)
            times[label].append((time.perf_counter() - tick) / args.steps * 1000)
    for label, step in steppers.items():
        ops = _ops_per_step(step, [batch for _, batch in batches[5:15]])
        runs = ", ".join(f"{t:.1f}" for t in times[label])
        print(f"{label}: {statistics.median(times[label]):.1f} ms/step at batch {args.batch_size}, "
              f"{args.image_size}x{args.image_size} images on {args.device} (runs: {runs}); "
              f"{ops:.0f} aten ops/step")


def _supernet_stepper(space, spec, task, settings, device, generic):  # noqa: ANN001, ANN202
    from nas.supernet.trainer import SupernetTrainer
    from supernets import create_supernet

    supernet = create_supernet(space, spec, seed=0).to(device)
    if generic is not None:  # the generic machinery's own methods, on the same layers
        for name in ("set_active", "forward", "recalibrate_bn"):
            setattr(supernet, name, getattr(generic, name).__get__(supernet))
    trainer = SupernetTrainer(supernet, task, settings, seed=0)
    supernet.train()
    return trainer.step


def _standalone_stepper(space, spec, task, settings, device):  # noqa: ANN001, ANN202
    """The floor: a step of the standalone model of a random arch (models built beforehand)."""
    import numpy as np
    import torch

    from nas.supernet.trainer import _optimizer
    from supernets import random_arch

    rng = np.random.default_rng(0)
    models = [space.build(random_arch(space, rng), spec).to(device).train() for _ in range(20)]
    optimizers = [_optimizer(m, settings) for m in models]  # as the supernet trainer builds it
    count = [0]

    def step(batch):  # noqa: ANN001, ANN202
        index = count[0] % len(models)
        count[0] += 1
        model, optimizer = models[index], optimizers[index]
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(*batch.inputs), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        return float(loss.detach())

    return step


def _ops_per_step(step: object, batches: list) -> float:
    """Mean aten operators dispatched per step over ``batches`` (random archs differ)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    with Count():
        for batch in batches:
            step(batch)  # type: ignore[operator]
    return Count.calls / len(batches)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
