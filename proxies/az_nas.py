"""AZ-NAS components: expressivity and progressivity of the feature spaces (Lee & Ham 2024).

AZ-NAS judges a net by four zero-cost components and sums their log-ranks
over the candidate population (:func:`proxies.ensembles.log_rank_sum`). Two
are here: *expressivity* (how isotropic each layer's feature distribution
is: the entropy of its normalised covariance spectrum) and *progressivity*
(whether expressivity grows with depth: the smallest step between
consecutive layers). *Complexity* is the ``flops`` proxy.
"""

from __future__ import annotations

import torch

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
