"""Weight-sharing supernets: train once, score many subnetworks, extract exact standalone models.

One supernet per search space, registered in :data:`SUPERNETS` under the
space's name (``gnn``, ``nb201``, ``mobilenet``, ``vit``, ``charlm``). The
elastic layers are in :mod:`supernets.elastic`, the shared machinery in
:class:`Supernet`, the trainer (sandwich rule, in-place distillation) in
:mod:`nas.supernet.trainer`; checkpoints in :mod:`supernets.checkpoint`.
"""

from supernets._base import Supernet
from supernets._registry import SUPERNETS, create_supernet, register_supernet
from supernets.sampling import random_arch

__all__ = ["SUPERNETS", "Supernet", "create_supernet", "random_arch", "register_supernet"]
