"""snip: connection sensitivity ``|w * dL/dw|`` summed (Lee et al. 2019, as a NAS proxy in
Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


@register_proxy("snip", needs=("grads",), paper="Lee et al. 2019 (SNIP)")
def snip(ctx: ProxyContext) -> float:
    """Sum of ``|w ⊙ dL/dw|`` over weight layers: the first-order loss change of pruning each weight."""
    grads = ctx.main().grads or {}
    return float(sum((p.detach() * grads[n]).abs().sum() for n, p in weight_params(ctx.model)))
