"""grasp: gradient signal preservation, ``-θ ⊙ Hg`` summed (Wang et al. 2020; as a NAS proxy
in Abdelfattah et al. 2021)."""

from __future__ import annotations

import torch

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


@register_proxy("grasp", needs=("grads", "hessian"), paper="Wang et al. 2020 (GraSP)")
def grasp(ctx: ProxyContext) -> float:
    """``sum(-θ ⊙ H g)``: how much removing weights would reduce the gradient flow.

    ``g`` is the loss gradient of the shared pass, which keeps its graph, so
    the Hessian-gradient product ``d(g_fixed · g)/dθ`` costs one more backward
    pass and no forward pass of its own.
    """
    main = ctx.main()
    params = weight_params(ctx.model)
    fixed = main.grads or {}
    graph_grads = main.graph_grads or []
    z = sum((fixed[n] * g).sum() for (n, _), g in zip(params, graph_grads) if g is not None)
    if not torch.is_tensor(z) or not z.requires_grad:
        return 0.0
    weights = [p for _, p in params]
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))
