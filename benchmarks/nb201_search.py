"""Search efficiency on NAS-Bench-201: seeded searches per sampler, tabular queries, regret curves.

Same as ``nas bench search`` (this script calls it; :mod:`nas.bench.search`
says what a query and each figure are), with this checkout's defaults:
``--out bench_out/nb201_search`` and ``--data-dir ../shared/data`` beside the
repository. Writes ``OUT/results.csv``, ``OUT/regret.png`` and ``OUT/table.md``,
and prints the table.

    python benchmarks/nb201_search.py --dataset cifar10 --sampler all \\
        --queries 50,100,200 --seeds 30 --out bench_out/nb201_search [--jobs 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if __name__ == "__main__":
    from nas.cli import main

    # The defaults go first: an option the user gives again later wins.
    defaults = ["--out", "bench_out/nb201_search", "--data-dir", str(ROOT.parent / "shared" / "data")]
    sys.argv = [sys.argv[0], "bench", "search", *defaults, *sys.argv[1:]]
    main()
