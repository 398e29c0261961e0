"""Supernet ranking quality: Kendall tau between supernet scores and standalone training.

Same as ``nas bench supernet`` (this script calls it), e.g.::

    python benchmarks/supernet_ranking.py --space gnn --task cora --n-archs 40
    python benchmarks/supernet_ranking.py --space nb201 --task cifar10-subset --n-archs 200
    python benchmarks/supernet_ranking.py --space mobilenet --task cifar10-subset --n-archs 20
    python benchmarks/supernet_ranking.py --space vit --task cifar10-subset --n-archs 40
    python benchmarks/supernet_ranking.py --space charlm --task tinyshakespeare --n-archs 40

Writes ``--out``/ranking.csv and summary.csv and prints Kendall tau, Spearman
rho, and the seconds per architecture of supernet scoring and of one
standalone training (NAS-Bench-201 uses the table, so it has no standalone
time). Where the preset trains the reference from several seeds (gnn/cora: 6,
``--standalone-seeds``), the reference is their mean, standalone.csv holds
each seed's scores, and the tau of seed 0 vs seed 1 and of the first half of
the seeds' mean vs the other half's (the reference's agreement with itself) is
printed too. The gnn/cora preset is few-shot by default (8 supernets;
``--split-on none`` for one). The presets (narrowed spaces, epochs,
budgets) are in :mod:`nas.bench.supernet_ranking`; ``benchmarks/gnn_ranking_study.py``
has the measurements behind the gnn one.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if __name__ == "__main__":
    from nas.cli import main

    sys.argv = [sys.argv[0], "bench", "supernet", *sys.argv[1:]]
    main()
