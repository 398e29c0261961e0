"""nwot: NASWOT, the log-determinant of the activation-pattern kernel (Mellor et al. 2021)."""

from __future__ import annotations

import torch

from nas.errors import NotApplicable
from proxies._context import ProxyContext, relu_kernel
from proxies._registry import register_proxy


@register_proxy("nwot", needs=("relu",), paper="Mellor et al. 2021 (NASWOT)")
def nwot(ctx: ProxyContext) -> float:
    """``log|K|`` with ``K_ij`` = number of ReLU units on which samples i and j agree
    (both on or both off): high when the untrained net already separates inputs."""
    kernel = relu_kernel(ctx.main().relu_codes or [])
    if kernel is None:
        raise NotApplicable("nwot needs ReLU-family activation modules (nn.ReLU, nn.GELU, ...)")
    return float(torch.linalg.slogdet(kernel).logabsdet)
