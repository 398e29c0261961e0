"""flops: FLOPs of one forward pass on the batch (a baseline in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("flops", paper="Abdelfattah et al. 2021 (baseline)")
def flops(ctx: ProxyContext) -> float:
    """Forward FLOPs on the batch, message passing included (``nas.metrics.count_flops``).

    Images and sequences are independent samples (the count runs in eval
    mode), so one sample is counted and multiplied by the batch size; a graph
    batch is one whole graph and is counted as it is.
    """
    from nas.metrics import count_flops
    from search_spaces import Batch

    batch = ctx.batch
    if ctx.family == "graph":
        return float(count_flops(ctx.model, batch))
    n = batch.inputs[0].shape[0]
    one = Batch(tuple(t[:1] for t in batch.inputs), batch.targets[:1])
    return float(n * count_flops(ctx.model, one))
