"""The GNN supernet: shared weights across hidden dims and depths, one weight set per conv type.

Every architecture of the ``gnn`` space is a subnet: hidden dims take the
leading channels of the widest layers, depths the first layers (the elastic
depth of Once-for-All, Cai et al. 2020), and each conv type (GCN, GAT,
SAGE …) has its own message-passing weights (``<conv>/convs.<i>`` slots), as
one-shot GNN NAS does (e.g. SANE, Zhao et al. 2021). Learning rate, weight
decay, dropout and propagation steps carry no weights; the supernet ranks the
architecture those leave, not the optimiser settings.

Two slots are split so that one weight never means two things. The output
layer has its own ``classifier`` slot: were it a slice of ``head.0``, the
first hidden units of a two-layer head would double as a one-layer head's
logits, and the small subnets would learn nothing (we measured near-uniform
predictions). And layers reading the skip connections' output are split by
skip kind (``concat/…`` vs ``plain/…``): with ``concat`` their first inputs are
the encoder's features, otherwise the last convolution's.
"""

from __future__ import annotations

import itertools

from nas.architecture import Architecture
from search_spaces import Categorical
from supernets._base import Supernet
from supernets._registry import register_supernet

__all__ = ["GNNSupernet"]

_SKIP_GROUPS = {"concat": ("concat",), "plain": ("none", "sum")}


@register_supernet("gnn")
class GNNSupernet(Supernet):
    """Slots: ``encoder.*``, ``<conv>/[<skip>/]convs.*``, ``[<skip>/]head.*``, ``[<skip>/]classifier``."""

    def slot(self, arch: Architecture, layer: str) -> str:
        group = "concat" if arch["skip"] == "concat" else "plain"
        parts = layer.split(".")
        if parts[0] == "convs":
            reads_skip = int(parts[1]) > 0
            return f"{arch['conv']}/" + (f"{group}/" if reads_skip else "") + layer
        if parts[0] == "head":
            index = int(parts[1])
            name = "classifier" if index == int(arch["post_layers"]) - 1 else layer
            return f"{group}/{name}" if index == 0 else name
        return layer

    def covering_archs(self) -> list[Architecture]:
        choices = self.space.choices()
        largest = dict(self.space.largest())

        def values(name: str) -> list:
            choice = choices[name]
            return list(choice.values) if isinstance(choice, Categorical) else choice.grid()

        heads = sorted(set(values("heads")))
        post = sorted(set(values("post_layers")))
        skips = [next(s for s in members if s in values("skip"))
                 for members in _SKIP_GROUPS.values() if any(s in values("skip") for s in members)]
        out = []
        # Heads change GAT's attention shapes and post_layers which slot is the classifier:
        # span both ends for every conv type and skip group.
        for conv, skip, head, n_post in itertools.product(values("conv"), skips,
                                                          (heads[-1], heads[0]),
                                                          (post[-1], post[0])):
            arch = dict(largest, conv=conv, skip=skip, heads=head, post_layers=n_post)
            out.append(Architecture(arch))
        return list(dict.fromkeys(out))
