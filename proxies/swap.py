"""swap: sample-wise activation patterns (Peng et al. 2024, SWAP-NAS)."""

from __future__ import annotations

from nas.errors import NotApplicable
from proxies._context import ProxyContext, relu_patterns
from proxies._registry import register_proxy


@register_proxy("swap", needs=("relu",), paper="Peng et al. 2024 (SWAP)")
def swap(ctx: ProxyContext) -> float:
    """Number of distinct per-neuron on/off patterns across the batch's samples.

    Each ReLU-family unit's signs over the samples form one binary pattern;
    more distinct patterns mean a more expressive untrained network.
    """
    patterns = relu_patterns(ctx.main().relu_codes or [])
    if patterns is None:
        raise NotApplicable("swap needs ReLU-family activation modules (nn.ReLU, nn.GELU, ...)")
    return float(patterns.numel())
