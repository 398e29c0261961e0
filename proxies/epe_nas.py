"""epe_nas: per-class Jacobian correlations (Lopes et al. 2021, EPE-NAS)."""

from __future__ import annotations

import torch

from nas.errors import NotApplicable
from proxies._context import MAX_SAMPLES, ProxyContext
from proxies._registry import register_proxy

_K = 1e-5


@register_proxy("epe_nas", needs=("jacobian",), paper="Lopes et al. 2021 (EPE-NAS)")
def epe_nas(ctx: ProxyContext) -> float:
    """Mean pairwise gap between the classes' ``sum log(|corr| + k)`` of their samples'
    input Jacobians: a net whose Jacobians separate classes scores high.

    Needs one class label per sample, so it does not apply to sequence models
    (a label per token).
    """
    if ctx.family == "sequence":
        raise NotApplicable("epe_nas needs one class label per sample; sequence models have one per token")
    jac = ctx.main().jacobian
    _, labels = ctx.batch.selected(torch.zeros(ctx.batch.targets.numel(), 1))
    labels = labels[:MAX_SAMPLES]
    if jac is None or jac.shape[0] != labels.shape[0]:
        raise NotApplicable("epe_nas needs a Jacobian row per labelled sample")
    per_class = []
    for label in torch.unique(labels):
        rows = jac[labels == label].double()
        if rows.shape[0] < 2:
            continue
        corr = torch.nan_to_num(torch.corrcoef(rows), nan=0.0)
        per_class.append(torch.log(corr.abs() + _K).sum())
    if not per_class:
        raise NotApplicable("epe_nas needs two samples of one class in the batch")
    scores = torch.stack(per_class)
    return float((scores[:, None] - scores[None, :]).abs().sum() / len(scores))
