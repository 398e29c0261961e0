"""vkdnw: entropy of the Fisher information spectrum at initialisation (Tybl & Neumann 2025, VKDNW).

VKDNW ("variance of knowledge of deep network weights") asks how evenly a
network's Fisher information matrix spreads over its weights: a flat
spectrum means every weight can be estimated from data about as well as the
others. The full matrix is intractable, so the paper takes one scalar weight
per parameter tensor (its first element) from the first
:data:`MAX_TENSORS` tensors in registration order, and computes the Fisher
matrix of those scalars exactly:

    F = mean_n J_n^T (diag(p_n) - p_n p_n^T) J_n

where ``J_n`` is the Jacobian of sample ``n``'s logits with respect to the
chosen scalars and ``p_n`` its softmax, smoothed towards uniform by
``alpha = 0.05`` (the model's own predictive distribution, so no labels are
read). Each sample goes through the network alone, BatchNorm normalising
with that sample's own statistics, as in the paper's code. The score is the
entropy of the nine eigenvalue deciles normalised to sum one.

Two proxies share one computation (:func:`fisher_spectrum`, cached on the
context): ``vkdnw`` is the entropy alone; ``vkdnw_single`` is the paper's
single-score ranking, lexicographic in (number of parameter tensors,
entropy), encoded as ``tensors + entropy / (log 9 + 1e-6)`` so that the float
orders exactly as the pair does. The paper's aggregate (VKDNW_agg) sums the
log-ranks of ``vkdnw_single`` and other proxies over the population:
:func:`proxies.ensembles.log_rank_sum`.

Applies to models that map one float sample to one row of logits (images,
flat feature vectors); graphs and token sequences raise ``NotApplicable``.
"""

from __future__ import annotations

import math

import torch
from torch.func import functional_call, jacrev, replace_all_batch_norm_modules_, vmap

from nas.errors import NotApplicable
from proxies._context import ProxyContext, family_of
from proxies._registry import register_proxy

__all__ = ["vkdnw", "vkdnw_single", "fisher_spectrum", "decile_entropy", "MAX_TENSORS",
           "MAX_SAMPLES", "ALPHA"]

#: the paper's subsample: the first element of each of the first 128 parameter tensors
MAX_TENSORS = 128
#: samples of the batch used: each costs one per-sample Jacobian of every logit. The paper's
#: NB201 runs used 64; on one CPU core an NB201 net costs ~11 s with 64, ~3.5 s with 32 and
#: ~2 s with 16. 16 samples still give the Fisher matrix rank up to 16 x 9 = 144, above the
#: 128 scalars, so the spectrum is not padded with zeros by too few samples.
MAX_SAMPLES = 16
#: smoothing of the predicted distribution towards uniform (the paper's alpha)
ALPHA = 0.05
_DECILES = 9


@register_proxy("vkdnw", paper="Tybl & Neumann 2025 (VKDNW)")
def vkdnw(ctx: ProxyContext) -> float:
    """Entropy of the normalised deciles of the Fisher eigenvalues of one weight per tensor."""
    return decile_entropy(fisher_spectrum(ctx)[0])


@register_proxy("vkdnw_single", paper="Tybl & Neumann 2025 (VKDNW)")
def vkdnw_single(ctx: ProxyContext) -> float:
    """Parameter tensors, ties broken by the vkdnw entropy: the paper's single-score ranking."""
    eigenvalues, tensors = fisher_spectrum(ctx)
    return tensors + decile_entropy(eigenvalues) / (math.log(_DECILES) + 1e-6)


def decile_entropy(eigenvalues: torch.Tensor) -> float:
    """``-sum t log t`` over the nine eigenvalue deciles ``t`` scaled to sum one (0 if all zero).

    >>> round(decile_entropy(torch.ones(20)), 4) == round(math.log(9), 4)
    True
    """
    deciles = torch.quantile(eigenvalues.double().clamp(min=0),
                             torch.linspace(0.1, 0.9, _DECILES, dtype=torch.float64))
    total = float(deciles.sum())
    if total <= 0:
        return 0.0
    share = deciles / total
    return float(-(share * torch.log(share.clamp(min=1e-300))).sum())


def fisher_spectrum(ctx: ProxyContext) -> tuple[torch.Tensor, int]:
    """(eigenvalues of the subsampled Fisher matrix, number of trainable parameter tensors)."""
    if "vkdnw_spectrum" not in ctx.cache:
        ctx.cache["vkdnw_spectrum"] = _fisher_spectrum(ctx)
    return ctx.cache["vkdnw_spectrum"]


def _fisher_spectrum(ctx: ProxyContext) -> tuple[torch.Tensor, int]:
    if family_of(ctx.batch) != "image" or ctx.batch.mask is not None:
        raise NotApplicable("vkdnw needs one float sample per row of logits (images, vectors)")
    inputs = ctx.batch.inputs[0][:MAX_SAMPLES].detach()
    if inputs.shape[0] < 1:
        raise NotApplicable("vkdnw needs at least one sample")
    model = ctx.fresh_model()
    # Per-sample BatchNorm statistics, as when the paper's code feeds one sample at a time.
    replace_all_batch_norm_modules_(model)
    model.eval()
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    chosen = trainable[:MAX_TENSORS]
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    first = torch.stack([p.detach().reshape(-1)[0] for _, p in chosen])

    def logits_of(scalars: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        swapped = dict(params)
        for k, (name, p) in enumerate(chosen):
            flat = p.detach().reshape(-1)
            swapped[name] = torch.cat([scalars[k:k + 1], flat[1:]]).view_as(p)
        out = functional_call(model, (swapped, buffers), (sample.unsqueeze(0),))
        return out.reshape(-1)

    with torch.no_grad():
        logits = vmap(logits_of, in_dims=(None, 0))(first, inputs)
    if logits.shape[-1] < 2:
        raise NotApplicable("vkdnw needs at least two output classes")
    jacobians = vmap(jacrev(logits_of), in_dims=(None, 0))(first, inputs)  # (n, classes, scalars)
    fisher = _fisher_matrix(jacobians.double(), logits.double())
    eigenvalues = torch.linalg.eigvalsh(fisher)
    if not torch.isfinite(eigenvalues).all():
        raise NotApplicable("vkdnw: the Fisher matrix is not finite")
    return eigenvalues, len(trainable)


def _fisher_matrix(jacobians: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``mean_n J_n^T (diag p_n - p_n p_n^T) J_n`` with p smoothed towards uniform by ALPHA."""
    classes = logits.shape[-1]
    prob = torch.softmax(logits, dim=-1) * (1 - ALPHA) + ALPHA / classes
    covariance = torch.diag_embed(prob) - prob.unsqueeze(2) * prob.unsqueeze(1)
    fisher = torch.einsum("nck,ncd,ndl->kl", jacobians, covariance, jacobians) / jacobians.shape[0]
    return (fisher + fisher.T) / 2
