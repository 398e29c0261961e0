"""l2_norm: the summed Euclidean norms of the weights (a baseline in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


@register_proxy("l2_norm", paper="Abdelfattah et al. 2021 (baseline)")
def l2_norm(ctx: ProxyContext) -> float:
    """Sum over weight matrices/kernels of ``||W||_2`` at initialisation (data-free)."""
    return float(sum(p.detach().norm() for _, p in weight_params(ctx.model)))
