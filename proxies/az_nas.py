"""AZ-NAS components: expressivity, progressivity and trainability (Lee & Ham 2024).

AZ-NAS judges a net by four zero-cost components and sums their log-ranks
over the candidate population (:func:`proxies.ensembles.log_rank_sum`; the
named ensemble ``az_nas``). Three are here: *expressivity* (how isotropic
each layer's feature distribution is: the entropy of its normalised
covariance spectrum), *progressivity* (whether expressivity grows with
depth: the smallest step between consecutive layers) and *trainability*
(how close each block's backward Jacobian keeps gradient norms to 1).
*Complexity* is the ``flops`` proxy.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from nas.errors import NotApplicable
from proxies._context import ProxyContext
from proxies._registry import register_proxy


def _isotropy(ctx: ProxyContext) -> list[float]:
    def compute() -> list[float]:
        out = []
        for cov in ctx.main().covariances:
            eig = torch.linalg.eigvalsh(cov).clamp(min=0)
            if eig.sum() <= 0:
                out.append(0.0)
                continue
            p = eig / eig.sum()
            out.append(float(-(p * torch.log(p.clamp(min=1e-30))).sum()))
        return out

    if "az_isotropy" not in ctx.cache:
        ctx.cache["az_isotropy"] = compute()
    return ctx.cache["az_isotropy"]


@register_proxy("az_expressivity", needs=("activations",), paper="Lee & Ham 2024 (AZ-NAS)")
def az_expressivity(ctx: ProxyContext) -> float:
    """Sum over weight layers of the entropy of the normalised feature-covariance eigenvalues."""
    values = _isotropy(ctx)
    if not values:
        raise NotApplicable("az_expressivity needs weight layers")
    return float(sum(values))


@register_proxy("az_progressivity", needs=("activations",), paper="Lee & Ham 2024 (AZ-NAS)")
def az_progressivity(ctx: ProxyContext) -> float:
    """Smallest increase of expressivity between consecutive weight layers (execution order)."""
    values = _isotropy(ctx)
    if len(values) < 2:
        raise NotApplicable("az_progressivity needs at least two weight layers")
    return float(min(b - a for a, b in zip(values, values[1:])))


@register_proxy("az_trainability", paper="Lee & Ham 2024 (AZ-NAS)")
def az_trainability(ctx: ProxyContext) -> float:
    """Mean over blocks of ``2 - σ - 1/σ``, σ the spectral norm of the block's backward Jacobian.

    Blocks are the children of the model's longest chain container (an
    ``nn.Sequential`` or ``nn.ModuleList`` whose children feed each other:
    NAS-Bench-201's cells, a ResNet's or transformer's blocks). For each, a
    Rademacher gradient ``g_out`` is pulled back to the block input
    (``g_in``); ``E[g_in g_out^T]`` over positions estimates the channel-level
    Jacobian, whose largest singular value σ is scored (0 at σ = 1, below
    it when gradients shrink or grow). A block that hands ``g_out`` back
    unchanged computes the identity and scores ``-inf``, as in the authors'
    code: it adds depth without anything to train.
    """
    features = _block_features(ctx)
    if len(features) < 2:
        raise NotApplicable("az_trainability needs a chain of at least one block (nn.Sequential/ModuleList)")
    ctx.seeded(2)
    scores = []
    for f_in, f_out in reversed(list(zip(features, features[1:]))):
        g_out = torch.randint(0, 2, f_out.shape, device=f_out.device).to(f_out.dtype) * 2 - 1
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
        g_in = torch.zeros_like(f_in) if g_in is None else g_in
        if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
            scores.append(-math.inf)
            continue
        pair = _channel_rows(ctx, g_in, g_out)
        if pair is None:
            continue
        rows_in, rows_out = pair
        sigma = float(torch.linalg.matrix_norm(rows_in.T @ rows_out / rows_out.shape[0], ord=2))
        scores.append(2.0 - sigma - 1.0 / (sigma + 1e-6))
    if not scores:
        raise NotApplicable("az_trainability: no block whose input and output positions line up")
    return float(sum(scores) / len(scores))


def _block_features(ctx: ProxyContext) -> list[torch.Tensor]:
    """Input of the longest chain's first block, then every block's output, on one train-mode pass.

    Every container's children are hooked; a child whose output is its own
    input (an in-place ReLU) is folded into the block before it.
    """
    model = ctx.fresh_model()  # its own train-mode pass must not move the shared copy's BN statistics
    containers = [m for m in model.modules() if isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m) > 0]
    calls: dict[int, list[tuple[int, Any, Any]]] = {id(c): [] for c in containers}
    handles = []

    def pre_hook(key: int, index: int) -> Any:
        def hook(_m: nn.Module, args: tuple[Any, ...]) -> Any:
            x = args[0] if args else None
            if torch.is_tensor(x) and x.is_floating_point() and not x.requires_grad:
                x = x.detach().requires_grad_(True)  # a differentiable start for the first block
                args = (x, *args[1:])
            calls[key].append((index, x, None))
            return args
        return hook

    def post_hook(key: int) -> Any:
        def hook(_m: nn.Module, _args: Any, out: Any) -> None:
            index, x, _ = calls[key][-1]
            calls[key][-1] = (index, x, out)
        return hook

    for container in containers:
        for index, child in enumerate(container):
            handles.append(child.register_forward_pre_hook(pre_hook(id(container), index)))
            handles.append(child.register_forward_hook(post_hook(id(container))))
    ctx.seeded()
    model.train()
    try:
        model(*ctx.batch.inputs)
    finally:
        for handle in handles:
            handle.remove()
    best: list[torch.Tensor] = []
    for container in containers:
        chain = _chain(calls[id(container)])
        if len(chain) > len(best):
            best = chain
    return best


def _chain(calls: list[tuple[int, Any, Any]]) -> list[torch.Tensor]:
    """``[input, out_1, ..., out_k]`` when the children ran in order, each on the last one's output."""
    if not calls or [i for i, _, _ in calls] != list(range(len(calls))):
        return []
    first = calls[0][1]
    if not torch.is_tensor(first) or not first.requires_grad:
        return []
    features = [first]
    for _, x, out in calls:
        if not torch.is_tensor(out) or x is not features[-1] and x is not out:
            return []
        if out is not features[-1]:  # an in-place child returns its input: same boundary
            features.append(out)
    return features


def _channel_rows(ctx: ProxyContext, g_in: torch.Tensor,
                  g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Both gradients as (positions, channels); a strided image block's input is space-to-depth folded."""
    if ctx.family == "image" and g_in.ndim == 4 and g_out.ndim == 4:
        if g_in.shape[2:] != g_out.shape[2:]:
            stride = g_in.shape[2] // g_out.shape[2]
            if stride < 1 or g_in.shape[2:] != (g_out.shape[2] * stride, g_out.shape[3] * stride):
                return None
            g_in = F.pixel_unshuffle(g_in, stride)
        g_in, g_out = g_in.movedim(1, -1), g_out.movedim(1, -1)
    rows_in, rows_out = g_in.reshape(-1, g_in.shape[-1]), g_out.reshape(-1, g_out.shape[-1])
    if rows_in.shape[0] != rows_out.shape[0]:
        return None
    return rows_in.double(), rows_out.double()
