"""Parameters, FLOPs and CPU latency of resnet-space networks beside ResNet-20, no training.

Answers "is this network at <= 0.5x ResNet-20's latency?" before a 30-epoch training is
spent on it. Every network is timed in turn with ResNet-20 (one thread, a batch of 64
random 32x32 images by default, ``nas bench family``'s :func:`side_by_side_latency`), so
the ratios hold on a busy machine; each row also prints the spread of its ratio over the
rounds. Timing goes through ``measure_latency``, which keeps glibc's allocator from
faulting activations in on every pass (before stop 31 this script's fresh process did,
and read networks with cheap first stages 0.08-0.16 lower against ResNet-20).

    python benchmarks/resnet_latency.py --arch '{"s1_depth": 1, "s1_width": 12, "s2_depth": 2}'

``--arch`` takes a JSON object of the choices that differ from ResNet-20 (repeatable).
"""

from __future__ import annotations

import argparse
import json
import statistics

from nas.bench.family import side_by_side_latency
from nas.metrics import Batch
from search_spaces import TaskSpec, create_space
from search_spaces._latency import random_images
from search_spaces.resnet import flops_count, parameter_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", action="append", default=[],
                        help="JSON object: the choices that differ from ResNet-20 (repeatable)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds timing every network once")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="images per pass (64: the batch `nas bench family` times)")
    args = parser.parse_args()

    space = create_space("resnet")
    spec = TaskSpec("image", 3, 10, 32)
    resnet20 = space.default()
    archs = [resnet20] + [space.validate(resnet20.replace(**json.loads(a))) for a in args.arch]
    models = [space.build(arch, spec) for arch in archs]
    batch = Batch((random_images(spec, args.batch_size),), None)
    per_round = [side_by_side_latency(models, batch, rounds=1) for _ in range(args.rounds)]
    ratios = [[r[i] / r[0] for r in per_round] for i in range(len(archs))]
    reference_flops = flops_count(resnet20, num_classes=10)
    print(f"{'network':<60} {'params':>8} {'FLOPs':>6} {'latency':>8} {'(min-max)':>12}")
    for arch, ratio in zip(archs, ratios):
        changed = {k: v for k, v in arch.items() if v != resnet20[k]} or "ResNet-20"
        print(f"{json.dumps(changed) if isinstance(changed, dict) else changed:<60} "
              f"{parameter_count(arch, num_classes=10):>8,} "
              f"{flops_count(arch, num_classes=10) / reference_flops:>5.2f}x "
              f"{statistics.median(ratio):>7.2f}x ({min(ratio):.2f}-{max(ratio):.2f})")
    print(f"ResNet-20: {statistics.median(r[0] for r in per_round):.1f} ms per batch of "
          f"{args.batch_size}, one thread, median of {args.rounds} rounds")


if __name__ == "__main__":
    main()
