"""Hardware and size metrics for any model: params, FLOPs, measured latency, peak memory.

Every model takes ``model(*batch.inputs)`` (see :class:`search_spaces.Batch`),
so one implementation serves the GNN, CNN and transformer families.

* **params**: trainable parameters (``sum(p.numel())``).
* **FLOPs**: :func:`count_flops`, the ``flops`` zero-cost proxy's counter
  (:mod:`proxies.flops`): torch's ``FlopCounterMode`` plus the CPU attention kernel
  and PyG message passing, as multiply-accumulates × 2.
* **latency**: median and p90 of repeated forward passes after warm-up, with
  torch's thread count pinned (1 by default) and glibc's allocator kept from
  returning activations to the OS between passes (:mod:`nas.latency.allocator`),
  so numbers are comparable between trials and processes, at a configurable
  batch size (:func:`resize_batch`).
* **predicted latency**: the sum of per-layer latencies from a calibrated
  per-device lookup table (:mod:`nas.latency.table`, OFA/HAT style), in µs.

>>> from nas.metrics import count_params
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.latency.allocator import steady_allocator
from nas.latency.table import predict_latency_if_calibrated
from proxies.flops import count_flops
from search_spaces import Batch

if TYPE_CHECKING:
    import torch

__all__ = [
    "LATENCY_REPEATS",
    "Latency",
    "count_params",
    "count_flops",
    "measure_latency",
    "peak_memory_mb",
    "hardware_metrics",
    "resize_batch",
]


#: timed forward passes per latency measurement, unless a study's
#: ``evaluator.params.latency_repeats`` says otherwise (every evaluator and export)
LATENCY_REPEATS = 10


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
        predicted = predict_latency_if_calibrated(space, arch, spec)
        if predicted is not None:
            metrics["predicted_latency"] = predicted
    return metrics


def resize_batch(batch: Batch, batch_size: int) -> Batch:
    """``batch`` with ``batch_size`` rows (image/sequence); graph batches unchanged."""
    import torch

    if len(batch.inputs) != 1 or batch.mask is not None:
        return batch
    (inputs,) = batch.inputs
    rows = int(inputs.shape[0])
    if rows == batch_size:
        return batch
    index = torch.arange(batch_size, device=inputs.device) % rows
    targets = batch.targets[index] if batch.targets is not None else None
    return Batch((inputs[index],), targets)


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p90_ms: float
    repeats: int
    threads: int


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def measure_latency(
    model: torch.nn.Module,
    batch: Batch,
    *,
    warmup: int = 3,
    repeats: int = LATENCY_REPEATS,
    threads: int | None = 1,
) -> Latency:
    """Median and p90 wall time of ``model(*batch.inputs)`` in eval mode, in ms.

    Timed in the allocator's steady state (:func:`nas.latency.allocator.steady_allocator`),
    so the figure does not depend on what the process allocated and freed before.
    """
    import torch

    steady_allocator()
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
