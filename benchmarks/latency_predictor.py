"""How well the per-layer latency table predicts whole-model latency (OFA/HAT style).

For each space with a decomposition (mobilenet, vit, charlm): calibrate the
table on this machine (in a fresh folder unless ``--cache-dir`` is given),
then measure 50 seeded random architectures end to end (architectures the
calibration never measured) and compare with the prediction. Prints R² and
the mean absolute percentage error (MAPE) of the calibrated prediction, and of
the raw per-layer sum before the scale/offset correction.

Torch runs on one pinned thread; every measurement summarises (see
``--statistic``) repeated forward passes after warm-up (``--repeats`` when calibrating,
``--measure-repeats`` for the reference), the passes of all architectures
interleaved round robin so a burst of load hits them alike. The
reference clock is the measuring thread's CPU time (``--clock cpu``, what the
table is calibrated with): on one thread it equals wall time on an idle
machine and, unlike wall time, is not inflated by other processes sharing the
cores. The last columns give R² and MAPE against wall-clock medians measured
in the same runs, which on a loaded machine carry that load; the load average
is printed before and after.

    python benchmarks/latency_predictor.py [--spaces mobilenet vit charlm] [--archs 50]
        [--batch-size 1] [--repeats 30] [--measure-repeats 60] [--statistic min|median]

``--statistic`` summarises each model's passes (table and reference alike) by
their minimum (default), the figure other processes can only push up, as
Python's ``timeit`` recommends on a shared machine, or by their median.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["mobilenet", "vit", "charlm"])
    parser.add_argument("--archs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30, help="calibration passes per model")
    parser.add_argument("--measure-repeats", type=int, default=60,
                        help="passes per architecture for the measured reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--statistic", choices=["median", "min"], default="min",
                        help="summary of each model's timed passes, for the table and the reference")
    parser.add_argument("--cache-dir", default=None,
                        help="latency table folder (default: a fresh temporary folder)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from nas.latency.table import (
        _seeded_archs,
        calibrate,
        measure_archs_latency_us,
        predict_latency,
        unit_keys,
    )
    from nas.tasks import create_task
    from search_spaces import create_space

    torch.set_num_threads(1)
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="nas-latency-")
    task_for = {"image": "cifar10-subset", "sequence": "tinyshakespeare"}
    print(f"load average before: {_load()}; torch threads: {torch.get_num_threads()}; "
          f"batch size {args.batch_size}; {args.statistic} of passes; calibration {args.repeats} passes, "
          f"reference {args.measure_repeats} passes per model (interleaved)")
    print(f"{'space':<10} {'archs':>5} {'R2':>6} {'MAPE':>6} {'R2 raw':>7} {'MAPE raw':>8} "
          f"{'range ms':>12} {'R2 wall':>8} {'MAPE wall':>9} {'calib s':>8}")
    for name in args.spaces:
        space = create_space(name)
        spec = create_task(task_for[space.families[0]]).prepare("cpu")
        start = time.perf_counter()
        table = calibrate(space, spec, batch_size=args.batch_size, repeats=args.repeats,
                          seed=args.seed, statistic=args.statistic, cache_dir=cache_dir)
        calibration_seconds = time.perf_counter() - start
        archs = _seeded_archs(space, args.archs, seed=1000 + args.seed)
        predicted = np.asarray([predict_latency(space, a, spec, table=table) for a in archs])
        raw = np.asarray([sum(table.units[k] for k in unit_keys(space, a, spec))
                          for a in archs])
        measured, wall = (
            np.asarray(measure_archs_latency_us(space, archs, spec, batch_size=args.batch_size,
                                                repeats=args.measure_repeats, clock=clock,
                                                statistic=args.statistic))
            for clock in ("cpu", "wall")
        )
        print(f"{name:<10} {len(archs):>5} {_r2(predicted, measured):>6.3f} "
              f"{_mape(predicted, measured):>6.1%} {_r2(raw, measured):>7.3f} "
              f"{_mape(raw, measured):>8.1%} "
              f"{measured.min() / 1e3:>5.2f}-{measured.max() / 1e3:<6.2f} "
              f"{_r2(predicted, wall):>8.3f} {_mape(predicted, wall):>9.1%} "
              f"{calibration_seconds:>8.1f}", flush=True)
    print(f"load average after: {_load()}")


def _r2(predicted, measured):  # type: ignore[no-untyped-def]
    residual = ((measured - predicted) ** 2).sum()
    total = ((measured - measured.mean()) ** 2).sum()
    return float(1.0 - residual / total)


def _mape(predicted, measured):  # type: ignore[no-untyped-def]
    return float((abs(predicted - measured) / measured).mean())


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
