"""Supernet ranking quality: Kendall tau between supernet scores and standalone training.

Same as ``nas bench supernet`` (this script calls it), e.g.::

    python benchmarks/supernet_ranking.py --space gnn --task cora --n-archs 30
    python benchmarks/supernet_ranking.py --space nb201 --task cifar10-subset --n-archs 200
    python benchmarks/supernet_ranking.py --space mobilenet --task cifar10-subset --n-archs 20

Writes ``--out``/ranking.csv and summary.csv and prints Kendall tau, Spearman
rho, and the seconds per architecture of supernet scoring and of standalone
training (NAS-Bench-201 uses the table, so it has no standalone time). The
presets (narrowed spaces, epochs, budgets) are in :mod:`nas.supernet_ranking`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if __name__ == "__main__":
    from nas.cli import main

    sys.argv = [sys.argv[0], "bench", "supernet", *sys.argv[1:]]
    main()
