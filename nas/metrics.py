"""Hardware and size metrics for any model: params, FLOPs, measured latency, peak memory.

Every model takes ``model(*batch.inputs)`` (see :class:`search_spaces.Batch`),
so one implementation serves the GNN, CNN and transformer families.

* **params**: trainable parameters (``sum(p.numel())``).
* **FLOPs**: torch's ``FlopCounterMode`` (matmuls, convolutions, attention)
  plus what it misses: the CPU kernel of ``scaled_dot_product_attention``, and
  message passing in PyG layers (scatter/gather of one
  value per edge and channel), counted by hooks on ``MessagePassing`` modules.
  Reported as multiply-accumulates × 2, like torch does.
* **latency**: median and p90 of repeated forward passes after warm-up, with
  torch's thread count pinned (1 by default) so numbers are comparable
  between trials, at a configurable batch size (:func:`resize_batch`).
* **predicted latency**: the sum of per-layer latencies from a calibrated
  per-device lookup table (:mod:`nas.latency.table`, OFA/HAT style), in µs.

>>> from nas.metrics import count_params
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from search_spaces import Batch

__all__ = [
    "Latency",
    "count_params",
    "count_flops",
    "measure_latency",
    "peak_memory_mb",
    "hardware_metrics",
    "resize_batch",
]


def hardware_metrics(
    model: torch.nn.Module,
    batch: Batch,
    *,
    batch_size: int | None = None,
    space: Any = None,
    arch: Any = None,
    spec: Any = None,
    **latency_options: Any,
) -> dict[str, float]:
    """Every size/speed objective of ``model`` on ``batch``, by objective name.

    ``params``, ``flops``, ``latency_ms``, ``latency_p90_ms``, ``peak_memory_mb``:
    the names study files use as objectives. Evaluators call this once per trial.
    ``batch_size`` resizes image/sequence batches (first rows, repeated if
    needed) so latency is measured at a fixed deployment batch size; graph
    batches are whole graphs and stay as they are. With ``space`` (a
    :class:`SearchSpace` or its name), ``arch`` and ``spec`` given and a
    calibrated latency table on disk (``nas latency calibrate``), the result
    also has ``predicted_latency`` in microseconds (see :mod:`nas.latency.table`).
    """
    if batch_size is not None:
        batch = resize_batch(batch, batch_size)
    latency = measure_latency(model, batch, **latency_options)
    metrics = {
        "params": float(count_params(model)),
        "flops": float(count_flops(model, batch)),
        "latency_ms": latency.median_ms,
        "latency_p90_ms": latency.p90_ms,
        "peak_memory_mb": peak_memory_mb(model, batch),
    }
    if space is not None and arch is not None and spec is not None:
        from nas.latency.table import predict_latency_if_calibrated

        predicted = predict_latency_if_calibrated(space, arch, spec)
        if predicted is not None:
            metrics["predicted_latency"] = predicted
    return metrics


def resize_batch(batch: Batch, batch_size: int) -> Batch:
    """``batch`` with ``batch_size`` rows (image/sequence); graph batches unchanged."""
    import torch

    from search_spaces import Batch as BatchType

    if len(batch.inputs) != 1 or batch.mask is not None:
        return batch
    (inputs,) = batch.inputs
    rows = int(inputs.shape[0])
    if rows == batch_size:
        return batch
    index = torch.arange(batch_size, device=inputs.device) % rows
    targets = batch.targets[index] if batch.targets is not None else None
    return BatchType((inputs[index],), targets)


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p90_ms: float
    repeats: int
    threads: int


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def count_flops(model: torch.nn.Module, batch: Batch) -> int:
    """FLOPs of one forward pass on ``batch`` (torch's counter + attention + message passing).

    torch's counter knows the CUDA attention kernels but not the CPU one that
    ``scaled_dot_product_attention`` runs on CPU, so that one is added here
    (2 matmuls, ``QK^T`` and ``AV``, counted in full even when causal, as torch
    counts the CUDA kernels).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=_attention_flop_formulas())
    with _message_passing_flops(model) as extra, torch.no_grad(), counter:
        model(*batch.inputs)
    model.train(was_training)
    return int(counter.get_total_flops() + extra["flops"])


def _attention_flop_formulas() -> dict[Any, Any]:
    import torch
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

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


def measure_latency(
    model: torch.nn.Module,
    batch: Batch,
    *,
    warmup: int = 3,
    repeats: int = 10,
    threads: int | None = 1,
) -> Latency:
    """Median and p90 wall time of ``model(*batch.inputs)`` in eval mode, in ms."""
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    on_cuda = any(getattr(t, "is_cuda", False) for t in batch.inputs)
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                if on_cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                model(*batch.inputs)
                if on_cuda:
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000.0)
    finally:
        torch.set_num_threads(previous_threads)
        model.train(was_training)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return Latency(statistics.median(times), p90, repeats, threads or previous_threads)


def peak_memory_mb(model: torch.nn.Module, batch: Batch) -> float:
    """Peak memory of one forward pass: CUDA's allocator peak, or on CPU the
    parameters plus every activation tensor produced (an upper bound)."""
    import torch

    model.eval()
    on_cuda = any(getattr(t, "is_cuda", False) for t in batch.inputs)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            model(*batch.inputs)
        return torch.cuda.max_memory_allocated() / 2**20
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    handles = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        nonlocal total
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()

    for module in model.modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(*batch.inputs)
    finally:
        for h in handles:
            h.remove()
    return total / 2**20


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
