"""gradsign: agreement of per-sample gradient signs (Zhang & Jia 2022, GradSign)."""

from __future__ import annotations

import torch

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy

#: per-sample gradients are the costly part; the paper's setting uses a batch of 64
MAX_GRADSIGN_SAMPLES = 64


@register_proxy("gradsign", paper="Zhang & Jia 2022 (GradSign)")
def gradsign(ctx: ProxyContext) -> float:
    """``sum_w |sum_i sign(dL_i/dw)|``: how many weights every sample pushes the same way,
    a sample-wise optimisation-landscape density estimate."""
    model = ctx.model
    params = [p for _, p in weight_params(model)]
    model.train()
    signs = [torch.zeros_like(p) for p in params]
    for loss in _per_sample_losses(ctx):
        grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=ctx.family == "graph")
        for acc, g in zip(signs, grads):
            if g is not None:
                acc += torch.sign(g)
    return float(sum(s.abs().sum() for s in signs))


def _per_sample_losses(ctx: ProxyContext):  # type: ignore[no-untyped-def]
    """Yield each sample's loss: images/sequences one at a time, graph nodes from one forward."""
    import torch.nn.functional as F

    batch = ctx.batch
    ctx.seeded(20)
    if ctx.family == "graph":
        logits, targets = batch.selected(ctx.model(*batch.inputs))
        for i in range(min(len(targets), MAX_GRADSIGN_SAMPLES)):
            yield F.cross_entropy(logits[i : i + 1].float(), targets[i : i + 1])
        return
    x, y = batch.inputs[0], batch.targets
    for i in range(min(x.shape[0], MAX_GRADSIGN_SAMPLES)):
        out = ctx.model(x[i : i + 1])
        yield F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y[i : i + 1].reshape(-1))
