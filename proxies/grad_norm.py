"""grad_norm: the summed Euclidean norms of the loss gradients (Abdelfattah et al. 2021)."""

from __future__ import annotations

from proxies._context import ProxyContext
from proxies._registry import register_proxy


@register_proxy("grad_norm", needs=("grads",), paper="Abdelfattah et al. 2021")
def grad_norm(ctx: ProxyContext) -> float:
    """Sum over weight layers of ``||dL/dW||_2`` at initialisation, on one minibatch."""
    grads = ctx.main().grads or {}
    return float(sum(g.norm() for g in grads.values()))
