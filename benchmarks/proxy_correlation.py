"""How well each zero-cost proxy ranks NAS-Bench-201 architectures (CIFAR-10 test accuracy).

A script front end to :func:`nas.bench.proxies.run_proxy_benchmark` (also
``nas bench proxies``); see that module for what is measured and written.

    python benchmarks/proxy_correlation.py [--n-archs 1000] [--seed 0] [--out bench_out/proxy_correlation]
        [--proxies synflow nwot ...] [--minutes 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.bench.proxies import DEFAULT_PROXIES, run_proxy_benchmark  # noqa: E402
from nas.errors import NasError  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-archs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="sample and init seed")
    parser.add_argument("--batch-seed", type=int, default=0, help="which CIFAR-10 images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--proxies", nargs="+", default=list(DEFAULT_PROXIES))
    parser.add_argument("--out", default="bench_out/proxy_correlation")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop scoring after this long and report what is done")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--report-only", action="store_true",
                        help="score nothing; report on what OUT/scores.jsonl holds for the sample")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            print(f"  {done}/{total} archs", flush=True)

    try:
        result = run_proxy_benchmark(
            n_archs=args.n_archs, seed=args.seed, out=args.out, proxies=args.proxies,
            batch_seed=args.batch_seed, batch_size=args.batch_size, minutes=args.minutes,
            threads=args.threads, report_only=args.report_only, data_dir=args.data_dir,
            on_progress=progress,
        )
    except NasError as exc:
        sys.exit(str(exc))
    print(result.table)


if __name__ == "__main__":
    main()
