"""flops: FLOPs of one forward pass on the batch (a baseline in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("flops", paper="Abdelfattah et al. 2021 (baseline)")
def flops(ctx: ProxyContext) -> float:
    """Forward FLOPs on the batch, message passing included (``nas.metrics.count_flops``)."""
    from nas.metrics import count_flops

    return float(count_flops(ctx.model, ctx.batch))
