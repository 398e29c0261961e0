"""The NAS-Bench-201 one-shot supernet (SPOS, Guo et al. 2020, on Dong & Yang 2020's cell).

Every edge of every cell holds one weight set per operation (``<op>/cells.<i>.edges.<k>``
slots); an architecture picks one op per edge, and training samples architectures
uniformly (single-path one-shot). Stem, reduction blocks and classifier are
shared by all. Evaluation recalibrates batch norm per subnet, which SPOS found
essential for ranking.
"""

from __future__ import annotations

import re

from nas.architecture import Architecture
from supernets._base import Supernet
from supernets._registry import register_supernet

__all__ = ["NB201Supernet"]

_EDGE = re.compile(r"^cells\.\d+\.edges\.(\d+)(\.|$)")


@register_supernet("nb201")
class NB201Supernet(Supernet):
    """One-shot cell: weights per (cell, edge, op)."""

    def slot(self, arch: Architecture, layer: str) -> str:
        match = _EDGE.match(layer)
        if match:
            return f"{arch[f'edge_{match.group(1)}']}/{layer}"
        return layer

    def covering_archs(self) -> list[Architecture]:
        ops = list(self.space.choices()["edge_0"].values)  # type: ignore[union-attr]
        edges = list(self.space.choices())
        # The convolutional ops first: they carry the weights.
        ops.sort(key=lambda op: "conv" not in str(op))
        return [Architecture(dict.fromkeys(edges, op)) for op in ops]
