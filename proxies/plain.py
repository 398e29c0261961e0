"""plain: the signed first-order saliency ``w * dL/dw`` summed (Mozer & Smolensky 1989; a
baseline in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


@register_proxy("plain", needs=("grads",), paper="Mozer & Smolensky 1989")
def plain(ctx: ProxyContext) -> float:
    """Sum of ``w ⊙ dL/dw`` over weight layers (signed, unlike snip)."""
    grads = ctx.main().grads or {}
    return float(sum((p.detach() * grads[n]).sum() for n, p in weight_params(ctx.model)))
