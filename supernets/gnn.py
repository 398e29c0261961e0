"""The GNN supernet: shared weights across hidden dims and depths, one weight set per conv type.

Every architecture of the ``gnn`` space is a subnet: hidden dims take the
leading channels of the widest layers, depths the first layers (the elastic
depth of Once-for-All, Cai et al. 2020), and each conv type (GCN, GAT,
SAGE …) has its own message-passing weights (``<conv>/convs.<i>`` slots), as
one-shot GNN NAS does (e.g. SANE, Zhao et al. 2021). Encoder, norms, head and
activations are shared by all conv types. Learning rate, weight decay,
dropout and propagation steps carry no weights; the supernet ranks the
architecture those leave, not the optimiser settings.
"""

from __future__ import annotations

import itertools

from nas.architecture import Architecture
from search_spaces import Categorical
from supernets._base import Supernet
from supernets._registry import register_supernet

__all__ = ["GNNSupernet"]


@register_supernet("gnn")
class GNNSupernet(Supernet):
    """Slots: ``encoder.*``, ``encoder_norms.*``, ``<conv>/convs.*``, ``conv_norms.*``, ``head.*``."""

    def slot(self, arch: Architecture, layer: str) -> str:
        if layer.startswith("convs."):
            return f"{arch['conv']}/{layer}"
        return layer

    def covering_archs(self) -> list[Architecture]:
        choices = self.space.choices()
        largest = dict(self.space.largest())

        def values(name: str) -> list:
            choice = choices[name]
            return list(choice.values) if isinstance(choice, Categorical) else choice.grid()

        heads = sorted(set(values("heads")))
        post = sorted(set(values("post_layers")))
        out = []
        # Heads change GAT's attention shapes and post_layers the head's first
        # output (hidden vs classes): span both ends for every conv type.
        for conv, head, n_post in itertools.product(values("conv"), (heads[-1], heads[0]),
                                                    (post[-1], post[0])):
            arch = dict(largest, conv=conv, heads=head, post_layers=n_post)
            out.append(Architecture(arch))
        return list(dict.fromkeys(out))
