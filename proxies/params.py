"""params: the number of trainable parameters (a baseline in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("params", paper="Abdelfattah et al. 2021 (baseline)")
def params(ctx: ProxyContext) -> float:
    """Trainable parameters: bigger networks of one family tend to train to higher accuracy."""
    return float(sum(p.numel() for p in ctx.model.parameters() if p.requires_grad))
