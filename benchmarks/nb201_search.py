"""Search efficiency on NAS-Bench-201: seeded searches per sampler, tabular queries, regret curves.

A command-line front end to :func:`nas.search_benchmark.run_search_benchmark`
(the same benchmark as ``nas bench search``; see that module for what a query
and each figure are). Writes ``OUT/results.csv``, ``OUT/regret.png`` and
``OUT/table.md``, and prints the table.

    python benchmarks/nb201_search.py --dataset cifar10 --sampler all \\
        --queries 50,100,200 --seeds 30 --out bench_out/nb201_search [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.errors import NasError, first_line  # noqa: E402
from nas.search_benchmark import (  # noqa: E402
    ALL_SAMPLERS,
    OBJECTIVES,
    TASKS,
    parse_params,
    parse_queries,
    parse_samplers,
    run_search_benchmark,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(TASKS), default="cifar10")
    parser.add_argument("--sampler", default="all",
                        help=f"comma list, or 'all' ({', '.join(ALL_SAMPLERS)})")
    parser.add_argument("--queries", default="50,100,200", help="comma list of query counts")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--objectives", choices=OBJECTIVES, default="accuracy")
    parser.add_argument("--params", default="{}",
                        help='JSON: sampler -> params, e.g. {"tpe": {"n_startup_trials": 20}}')
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--zc-proxies", default="nwot", help="proxies of zc-warmstart (comma list)")
    parser.add_argument("--zc-pool", type=int, default=50, help="pool scored per seed by zc-warmstart")
    parser.add_argument("--out", default="bench_out/nb201_search")
    args = parser.parse_args(argv)
    try:
        result = run_search_benchmark(
            args.dataset, parse_samplers(args.sampler), parse_queries(args.queries),
            seeds=args.seeds, first_seed=args.first_seed, objectives=args.objectives,
            params=parse_params(args.params), jobs=args.jobs, out=args.out,
            data_dir=args.data_dir, zc_proxies=args.zc_proxies.split(","), zc_pool=args.zc_pool,
        )
    except NasError as exc:
        parser.error(first_line(exc))
    print(result.table)
    print(f"wall time {result.wall_seconds:.0f} s; files in {result.out}/")


if __name__ == "__main__":
    main()
