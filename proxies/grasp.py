"""grasp: gradient signal preservation, ``-θ ⊙ Hg`` summed (Wang et al. 2020; as a NAS proxy
in Abdelfattah et al. 2021)."""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


@register_proxy("grasp", needs=("grads",), paper="Wang et al. 2020 (GraSP)")
def grasp(ctx: ProxyContext) -> float:
    """``sum(-θ ⊙ H g)``: how much removing weights would reduce the gradient flow.

    ``g`` is the shared pass's loss gradient; the Hessian-gradient product
    comes from one more forward pass and a double backward.
    """
    first_order = ctx.main().grads or {}
    model = ctx.model
    params = weight_params(model)
    ctx.seeded()
    model.train()
    # Fused attention kernels have no double backward; the math kernel computes the same thing.
    with sdpa_kernel([SDPBackend.MATH]):
        loss = ctx.loss(model(*ctx.batch.inputs))
    weights = [p for _, p in params]
    grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((first_order[n] * g).sum() for (n, _), g in zip(params, grads) if g is not None)
    if not torch.is_tensor(z) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))
