"""jacob_cov: how decorrelated the input Jacobians of different samples are (Mellor et al.
2020, NASWOT v1; as evaluated in Abdelfattah et al. 2021)."""

from __future__ import annotations

import torch

from nas.errors import NotApplicable
from proxies._context import ProxyContext
from proxies._registry import register_proxy

_K = 1e-5


@register_proxy("jacob_cov", needs=("jacobian",), paper="Mellor et al. 2020")
def jacob_cov(ctx: ProxyContext) -> float:
    """``-sum_i (log(λ_i + k) + 1/(λ_i + k))`` over the eigenvalues λ of the samples'
    Jacobian correlation matrix: high when samples map through distinct linear regions."""
    jac = ctx.main().jacobian
    if jac is None or jac.shape[0] < 2:
        raise NotApplicable("jacob_cov needs at least two samples")
    corr = torch.corrcoef(jac.double())
    corr = torch.nan_to_num(corr, nan=0.0)
    eigenvalues = torch.linalg.eigvalsh(corr)
    return float(-torch.sum(torch.log(eigenvalues.clamp(min=0) + _K) + 1.0 / (eigenvalues.clamp(min=0) + _K)))
