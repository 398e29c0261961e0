"""How well the per-layer latency table predicts whole-model latency (OFA/HAT style).

For each space with a decomposition (mobilenet, vit, charlm): calibrate the
table on this machine (or reuse the cached one), then measure 50 seeded random
architectures end to end and compare with the prediction. Prints R² and the
mean absolute percentage error (MAPE) of the calibrated prediction, and of
the raw per-layer sum before the scale/offset correction.

    python benchmarks/latency_predictor.py [--spaces mobilenet vit charlm] [--archs 50]
        [--batch-size 1] [--recalibrate]

Run it on a quiet machine: other processes inflate some measurements.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None,
                        help="latency table folder (default: a fresh temporary folder)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from nas.latency_table import (
        _seeded_archs,
        calibrate,
        measure_arch_latency_us,
        predict_latency,
        unit_keys,
    )
    from nas.tasks import create_task
    from search_spaces import create_space

    torch.set_num_threads(1)
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="nas-latency-")
    task_for = {"image": "cifar10-subset", "sequence": "tinyshakespeare"}
    print(f"{'space':<10} {'archs':>5} {'R2':>6} {'MAPE':>7} {'R2 raw':>7} {'MAPE raw':>9} "
          f"{'range ms':>14} {'calib s':>8}")
    for name in args.spaces:
        space = create_space(name)
        spec = create_task(task_for[space.families[0]]).prepare("cpu")
        start = time.perf_counter()
        table = calibrate(space, spec, batch_size=args.batch_size, repeats=args.repeats,
                          cache_dir=cache_dir)
        calibration_seconds = time.perf_counter() - start
        archs = _seeded_archs(space, args.archs, seed=1000 + args.seed)
        predicted, raw, measured = [], [], []
        for arch in archs:
            predicted.append(predict_latency(space, arch, spec, table=table))
            raw.append(sum(table.units[k] for k in unit_keys(name, arch, spec, args.batch_size)))
            measured.append(measure_arch_latency_us(space, arch, spec, batch_size=args.batch_size,
                                                    repeats=args.repeats))
        measured_a = np.asarray(measured)
        r2, mape = _r2(np.asarray(predicted), measured_a), _mape(np.asarray(predicted), measured_a)
        r2_raw, mape_raw = _r2(np.asarray(raw), measured_a), _mape(np.asarray(raw), measured_a)
        print(f"{name:<10} {len(archs):>5} {r2:>6.3f} {mape:>6.1%} {r2_raw:>7.3f} {mape_raw:>9.1%} "
              f"{measured_a.min() / 1e3:>6.2f}-{measured_a.max() / 1e3:<7.2f} "
              f"{calibration_seconds:>8.1f}")


def _r2(predicted, measured):  # type: ignore[no-untyped-def]
    residual = ((measured - predicted) ** 2).sum()
    total = ((measured - measured.mean()) ** 2).sum()
    return float(1.0 - residual / total)


def _mape(predicted, measured):  # type: ignore[no-untyped-def]
    return float((abs(predicted - measured) / measured).mean())


if __name__ == "__main__":
    main()
