"""What sharing passes saves: one ``proxies.score`` call for all proxies vs each proxy alone.

Scores seeded NAS-Bench-201 networks (the exact benchmark network) on one
batch of real CIFAR-10 images, once with a single ``score(model, batch)`` call
for every registered proxy, once calling each proxy on its own
(``PROXIES.get(name)(model, batch)``: its own model copy and its own passes),
alternating the two so that load from other processes hits both alike.
Prints both wall times per architecture, their medians and the ratio; the
target is a ratio of at most 0.6.

    python benchmarks/proxy_shared_passes.py [--archs 3] [--batch-size 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--proxies", nargs="+", default=None, help="default: every registered proxy")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()

    import logging

    import numpy as np
    import torch

    from nas.errors import NotApplicable
    from nas.tasks import create_task
    from proxies import PROXIES, score
    from search_spaces import create_space
    from search_spaces.nb201 import arch_from_string

    logging.getLogger("proxies").setLevel(logging.ERROR)  # disconnected cells give -inf on purpose
    torch.set_num_threads(args.threads)
    names = args.proxies or PROXIES.names()
    task = create_task("nb201-cifar10", data_dir=args.data_dir)
    spec = task.prepare("cpu")
    batch = task.example_batch(args.batch_size, seed=args.seed)
    space = create_space("nb201")
    rows = np.random.default_rng(args.seed).permutation(len(task.table.arch))[: args.archs]
    print(f"{len(names)} proxies, NAS-Bench-201 network, batch of {args.batch_size} CIFAR-10 images, "
          f"{args.threads} thread(s)")
    print(f"{'arch':>6} {'one score() s':>14} {'each alone s':>13} {'ratio':>6}")
    shared_times, alone_times = [], []
    # Warm-up on two images: first-call costs (imports, kernel selection) would land on one side.
    warm_model = space.build(arch_from_string(task.table.arch[int(rows[0])]), spec)
    warm_batch = type(batch)((batch.inputs[0][:2],), batch.targets[:2])
    score(warm_model, warm_batch, names, seed=args.seed)
    for name in names:
        try:
            PROXIES.get(name)(warm_model, warm_batch, seed=args.seed)
        except NotApplicable:
            pass
    for row in rows:
        torch.manual_seed(args.seed + int(row))
        model = space.build(arch_from_string(task.table.arch[int(row)]), spec)
        started = time.perf_counter()
        score(model, batch, names, seed=args.seed)
        shared = time.perf_counter() - started
        started = time.perf_counter()
        for name in names:
            try:
                PROXIES.get(name)(model, batch, seed=args.seed)
            except NotApplicable:
                pass
        alone = time.perf_counter() - started
        shared_times.append(shared)
        alone_times.append(alone)
        print(f"{int(row):>6} {shared:>14.2f} {alone:>13.2f} {shared / alone:>6.2f}", flush=True)
    shared_median, alone_median = statistics.median(shared_times), statistics.median(alone_times)
    ratio = shared_median / alone_median
    print(f"median: one score() call {shared_median:.2f} s, each proxy alone {alone_median:.2f} s, "
          f"ratio {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
