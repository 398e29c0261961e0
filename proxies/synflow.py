"""synflow: synaptic flow, a data-free path-norm saliency (Tanaka et al. 2020; as a NAS proxy
in Abdelfattah et al. 2021).

Every parameter and buffer is replaced by its absolute value, the model runs
in float64 on an all-ones input (token models: all token 0, graphs: all-ones
features on the batch's edges), and the score is ``sum |θ ⊙ d(sum out)/dθ|``
over weight layers. The result ignores the batch's values.

Two variants differ only in batch norm:

* ``synflow`` (default here): batch norm in *eval* mode. On an untrained net
  the running statistics are (0, 1), so BN is (nearly) the identity and the
  score is the path norm of the linearised net, as Tanaka et al. define it.
  On NAS-Bench-201 this ranks architectures better than the published
  figure (see ``benchmarks/proxy_correlation.py``).
* ``synflow_bn_train``: batch norm in *train* mode, normalising with the
  statistics of the single ones input, as a model left in train mode does
  (the mode Abdelfattah et al. 2021 score in; kept for comparison). A BN in train mode
  removes the scale of everything before it (the last one before the
  classifier most of all), so the score keeps little of the path norm.
"""

from __future__ import annotations

import torch

from proxies._context import ProxyContext, weight_params
from proxies._registry import register_proxy


def synflow_score(ctx: ProxyContext, bn_train: bool) -> float:
    model = ctx.fresh_model().double()
    model.train(bn_train)
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.abs_()
    model.zero_grad(set_to_none=True)
    output = model(*_ones_inputs(ctx))
    output.sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for _, p in weight_params(model):
        if p.grad is not None:
            total = total + (p.detach() * p.grad).abs().sum()
    return float(total)


def _ones_inputs(ctx: ProxyContext) -> tuple[torch.Tensor, ...]:
    first, *rest = ctx.batch.inputs
    if ctx.family == "graph":
        return (torch.ones_like(first, dtype=torch.float64), *rest)
    if ctx.family == "sequence":
        return (torch.zeros_like(first[:1]),)
    return (torch.ones_like(first[:1], dtype=torch.float64),)


@register_proxy("synflow", paper="Tanaka et al. 2020 (SynFlow); BN in eval mode")
def synflow(ctx: ProxyContext) -> float:
    """Synaptic flow ``sum |θ ⊙ dR/dθ|`` of the absolute-valued net on a ones input, BN in eval mode."""
    return synflow_score(ctx, bn_train=False)


@register_proxy("synflow_bn_train", paper="Tanaka et al. 2020; train-mode BN as in Abdelfattah et al. 2021")
def synflow_bn_train(ctx: ProxyContext) -> float:
    """Synaptic flow with batch norm in train mode (the zero-cost-proxies paper's setting)."""
    return synflow_score(ctx, bn_train=True)
