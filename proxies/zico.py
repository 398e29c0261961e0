"""zico: inverse coefficient of variation of gradients across minibatches (Li et al. 2023, ZiCo)."""

from __future__ import annotations

import math

import torch

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy
from search_spaces import Batch


@register_proxy("zico", paper="Li et al. 2023 (ZiCo)")
def zico(ctx: ProxyContext) -> float:
    """``sum_layers log(sum_w mean|g_w| / std(g_w))`` over two halves of the batch.

    High when gradients are large and consistent across data: such nets train
    faster and generalise better (ZiCo's argument).
    """
    halves = _split_batch(ctx)
    model = ctx.model
    params = weight_params(model)
    model.train()
    per_half = []
    for index, batch in enumerate(halves):
        ctx.seeded(10 + index)
        loss = ctx.loss(model(*batch.inputs), batch)
        grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
        per_half.append([torch.zeros_like(p) if g is None else g.detach() for (_, p), g in zip(params, grads)])
    total = 0.0
    for layer_grads in zip(*per_half):
        stacked = torch.stack(layer_grads)
        std = stacked.std(0, unbiased=False)
        keep = std != 0
        ratio = float((stacked.abs().mean(0)[keep] / std[keep]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total


def _split_batch(ctx: ProxyContext) -> list:
    batch = ctx.batch
    if ctx.family == "graph":
        mask = batch.mask if batch.mask is not None else torch.ones(batch.targets.shape[0], dtype=torch.bool,
                                                                    device=batch.targets.device)
        idx = torch.nonzero(mask).flatten()
        halves = []
        for part in (idx[: len(idx) // 2], idx[len(idx) // 2:]):
            m = torch.zeros_like(mask)
            m[part] = True
            halves.append(Batch(batch.inputs, batch.targets, m))
        return halves
    n = batch.targets.shape[0]
    cut = max(1, n // 2)
    return [Batch((batch.inputs[0][:cut],), batch.targets[:cut]),
            Batch((batch.inputs[0][cut:],), batch.targets[cut:])]
