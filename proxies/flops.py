"""flops: FLOPs of one forward pass on the batch (a baseline in Abdelfattah et al. 2021).

:func:`count_flops` is also the ``flops`` metric of every evaluator (:mod:`nas.metrics`):
torch's ``FlopCounterMode`` (matmuls, convolutions, attention) plus what it misses, the
CPU kernel of ``scaled_dot_product_attention`` and message passing in PyG layers (one
value per edge and channel, counted by hooks on ``MessagePassing`` modules); reported as
multiply-accumulates x 2, as torch does.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from proxies._context import ProxyContext
from proxies._registry import register_proxy
from search_spaces import Batch

__all__ = ["flops", "count_flops"]


@register_proxy("flops", paper="Abdelfattah et al. 2021 (baseline)")
def flops(ctx: ProxyContext) -> float:
    """Forward FLOPs on the batch, message passing included (:func:`count_flops`).

    Images and sequences are independent samples (the count runs in eval
    mode), so one sample is counted and multiplied by the batch size; a graph
    batch is one whole graph and is counted as it is.
    """
    batch = ctx.batch
    if ctx.family == "graph":
        return float(count_flops(ctx.model, batch))
    n = batch.inputs[0].shape[0]
    one = Batch(tuple(t[:1] for t in batch.inputs), batch.targets[:1])
    return float(n * count_flops(ctx.model, one))


def count_flops(model: torch.nn.Module, batch: Batch) -> int:
    """FLOPs of one forward pass on ``batch`` (torch's counter + attention + message passing).

    torch's counter knows the CUDA attention kernels but not the CPU one that
    ``scaled_dot_product_attention`` runs on CPU, so that one is added here
    (2 matmuls, ``QK^T`` and ``AV``, counted in full even when causal, as torch
    counts the CUDA kernels).
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=_attention_flop_formulas())
    with _message_passing_flops(model) as extra, torch.no_grad(), counter:
        model(*batch.inputs)
    model.train(was_training)
    return int(counter.get_total_flops() + extra["flops"])


def _attention_flop_formulas() -> dict[Any, Any]:
    aten = torch.ops.aten
    formulas: dict[Any, Any] = {}

    # torch hands custom formulas the shapes of tensor arguments, not the tensors
    def forward(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
        return sdpa_flop_count(query, key, value)

    def backward(grad_out: Any, query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
        return sdpa_backward_flop_count(grad_out, query, key, value)

    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        formulas[aten._scaled_dot_product_flash_attention_for_cpu] = forward
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        formulas[aten._scaled_dot_product_flash_attention_for_cpu_backward] = backward
    return formulas


@contextmanager
def _message_passing_flops(model: torch.nn.Module):  # type: ignore[no-untyped-def]
    """Count 2 FLOPs per edge and output channel for every PyG message-passing call."""
    extra = {"flops": 0}
    try:
        from torch_geometric.nn import MessagePassing
    except ImportError:  # pragma: no cover - torch_geometric is a dependency
        yield extra
        return
    handles = []

    def hook(_module: Any, inputs: Any, output: Any) -> None:
        edge_index = inputs[1] if len(inputs) > 1 else None
        if edge_index is None or not hasattr(edge_index, "size") or edge_index.dim() != 2:
            return
        out = output[0] if isinstance(output, tuple) else output
        if hasattr(out, "shape"):
            extra["flops"] += 2 * int(edge_index.size(1)) * int(out.shape[-1])

    for module in model.modules():
        if isinstance(module, MessagePassing):
            handles.append(module.register_forward_hook(hook))
    try:
        yield extra
    finally:
        for h in handles:
            h.remove()
