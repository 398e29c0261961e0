"""meco: minimum eigenvalues of feature-map correlation matrices (Jiang et al. 2023, MeCo)."""

from __future__ import annotations

import torch

from nas.errors import NotApplicable
from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("meco", needs=("activations",), paper="Jiang et al. 2023 (MeCo)")
def meco(ctx: ProxyContext) -> float:
    """Sum over weight layers of ``λ_min`` of the channel correlation matrix of the first
    sample's feature map (channels × positions): high when channels are not redundant."""
    maps = ctx.main().first_maps
    if not maps:
        raise NotApplicable("meco needs layers with spatial, token or node positions")
    total = 0.0
    for fm in maps:
        if fm.shape[0] < 2 or fm.shape[1] < 2:
            continue
        corr = torch.nan_to_num(torch.corrcoef(fm.double()), nan=0.0, posinf=0.0, neginf=0.0)
        total += float(torch.linalg.eigvalsh(corr)[0])
    return total
