"""zen: the Zen-score, expected output change under a small input perturbation with BN
scaling correction (Lin et al. 2021, Zen-NAS)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn

from nas.errors import NotApplicable
from proxies._context import ProxyContext, weight_layers
from proxies._registry import register_proxy

_MIXUP = 0.01


@register_proxy("zen", paper="Lin et al. 2021 (Zen-NAS)")
def zen(ctx: ProxyContext) -> float:
    """``log E||f(x) - f(x + 0.01ε)||_1 + sum_BN log sqrt(mean σ²)`` with Gaussian weights/inputs.

    ``f`` is the representation fed to the last weight layer (the classifier):
    Zen-NAS's pre-GAP map where the model pools inside that layer's input.
    Token models are perturbed at their embedding output. Data-free.
    """
    model = ctx.fresh_model()
    ctx.seeded(1)
    with torch.no_grad():
        for _, layer in weight_layers(model):
            nn.init.normal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        # Zen-NAS scores a freshly initialised net: BN affine at (1, 0), so weights seen so far
        # (trained or scaled) do not change the score.
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    model.train()
    layers = weight_layers(model)
    if not layers:
        raise NotApplicable("zen needs weight layers")
    last = layers[-1][1]
    features: list[torch.Tensor] = []
    bn_vars: list[torch.Tensor] = []
    noise: dict[str, Any] = {}
    handles = [last.register_forward_pre_hook(lambda _m, args: features.append(args[0].detach()))]
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            handles.append(module.register_forward_pre_hook(
                lambda _m, args: bn_vars.append(_channel_var(args[0])) if noise.get("record") else None))
    inputs = _gaussian_inputs(ctx)
    embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if embedding is not None and not inputs[0].is_floating_point():
        handles.append(embedding.register_forward_hook(
            lambda _m, _i, out: out + _MIXUP * noise["eps"] if "eps" in noise else None))
    try:
        with torch.no_grad():
            noise["record"] = True
            model(*inputs)
            noise["record"] = False
            if inputs[0].is_floating_point():
                mixed = (inputs[0] + _MIXUP * torch.randn_like(inputs[0]), *inputs[1:])
            else:
                noise["eps"] = torch.randn(*inputs[0].shape, embedding.embedding_dim)  # type: ignore[union-attr]
                mixed = inputs
            model(*mixed)
    finally:
        for handle in handles:
            handle.remove()
    if len(features) < 2:
        raise NotApplicable("zen: the last weight layer did not run")
    diff = (features[0] - features[1]).abs().reshape(features[0].shape[0], -1).sum(1).mean()
    bn_term = sum(0.5 * math.log(float(v)) for v in bn_vars if float(v) > 0)
    return float(torch.log(diff)) + bn_term


def _channel_var(x: torch.Tensor) -> torch.Tensor:
    dims = [d for d in range(x.ndim) if d != 1]
    return x.var(dim=dims).mean()


def _gaussian_inputs(ctx: ProxyContext) -> tuple[torch.Tensor, ...]:
    first, *rest = ctx.batch.inputs
    if first.is_floating_point():
        return (torch.randn(first.shape, dtype=first.dtype, device=first.device), *rest)
    return (first, *rest)
