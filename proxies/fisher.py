"""fisher: channel saliency from activations times their gradients (Theis et al. 2018; Turner
et al. 2020; as a NAS proxy in Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("fisher", needs=("activations",), paper="Theis et al. 2018")
def fisher(ctx: ProxyContext) -> float:
    """Sum over layers and channels of ``0.5 * mean_n (sum_spatial a * dL/da)^2``.

    The approximate loss increase of removing each output channel of every
    weight layer; tokens and nodes count as samples for channels-last layers.
    """
    return float(sum(ctx.main().fisher))
