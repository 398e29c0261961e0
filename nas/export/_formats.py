"""Writing portable model files (TorchScript, ONNX) and proving they match the model.

Both formats are produced by *tracing* the in-memory model on a real batch, so
Python-side control flow is frozen to the path that batch takes; that is why
every written file is run again on *other* real batches (another seed, and
another size: fewer nodes, images or positions) and compared with the in-memory model:
a file whose outputs differ by more than :data:`PARITY_TOLERANCE` is refused
with an :class:`~nas.errors.ExportError`, never shipped.

Used by :mod:`nas.export`; nothing here knows about studies or trials.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import ExportError

if TYPE_CHECKING:
    import torch


__all__ = [
    "PARITY_TOLERANCE",
    "PORTABLE_FORMATS",
    "Check",
    "FormatResult",
    "exportable_scatter",
    "write_torchscript",
    "write_onnx",
    "max_abs_error",
    "parity_error",
    "sha256_file",
]

log = logging.getLogger(__name__)

#: Largest allowed parity error (see :func:`parity_error`).
PARITY_TOLERANCE = 1e-4
#: Formats beside ``pt`` (the state dict, always written), with their file names.
PORTABLE_FORMATS = {"torchscript": "model.ts", "onnx": "model.onnx"}
ONNX_OPSET = 18


@dataclass(frozen=True)
class Check:
    """Raw inputs the written file must answer like the in-memory model (``reference``)."""

    inputs: tuple[Any, ...]
    reference: Any
    description: str


@dataclass(frozen=True)
class FormatResult:
    """One written format: its file name and its measured parity error."""

    format: str
    file: str
    parity_error: float
    warnings: tuple[str, ...] = ()


def write_torchscript(
    model: torch.nn.Module, trace_inputs: Sequence[Any], checks: Sequence[Check], path: Path
) -> FormatResult:
    """Trace ``model`` on ``trace_inputs``, save it, reload it and compare on every check."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                traced = torch.jit.trace(model, tuple(trace_inputs), check_trace=False)
        except Exception as exc:  # noqa: BLE001 - any tracer failure means "not supported"
            raise ExportError(
                f"torchscript export is not supported for this model: {_first_line(exc)}"
            ) from None
    traced.save(str(path))
    reloaded = torch.jit.load(str(path), map_location="cpu")
    errors = []
    for check in checks:
        with torch.no_grad():
            output = reloaded(*check.inputs)
        errors.append(parity_error(output, check.reference))
        _check_parity("torchscript", errors[-1], check.description)
    return FormatResult("torchscript", path.name, max(errors, default=0.0), _tracer_notes(caught))


def write_onnx(
    model: torch.nn.Module, names: Sequence[str], axes: Mapping[str, Mapping[int, str]],
    trace_inputs: Sequence[Any], checks: Sequence[Check], path: Path,
) -> FormatResult:
    """Export to ONNX (opset 18) with ``axes`` dynamic, run it in onnxruntime on every check."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        buffer = io.BytesIO()
        try:
            with exportable_scatter():
                torch.onnx.export(
                    model, tuple(trace_inputs), buffer, dynamo=False,
                    input_names=list(names), output_names=["logits"], opset_version=ONNX_OPSET,
                    dynamic_axes={k: dict(v) for k, v in axes.items()}, do_constant_folding=True,
                )
        except Exception as exc:  # noqa: BLE001 - an unsupported op or tracer failure
            raise ExportError(f"onnx export is not supported for this model: {_first_line(exc)}") from None
    path.write_bytes(buffer.getvalue())
    errors = []
    for check in checks:
        output = run_onnx(path, names, check.inputs)
        errors.append(parity_error(torch.from_numpy(output), check.reference))
        _check_parity("onnx", errors[-1], check.description)
    return FormatResult("onnx", path.name, max(errors, default=0.0), _tracer_notes(caught))


@contextlib.contextmanager
def exportable_scatter() -> Iterator[None]:
    """While exporting to ONNX, route PyG's max/min scatter through an exportable formulation.

    PyG's own ONNX branch of ``scatter(reduce="max")`` calls ``torch.full`` with
    a tensor fill value, which current torch refuses (``full(): argument
    'fill_value' must be Number, not Tensor``), so every ``max``-aggregating
    conv (SAGE, GIN, GraphConv) failed to export. The replacement computes what
    PyG computes outside export (the max over incoming messages, 0 for a node
    without any) with ops ONNX has (``ScatterElements`` with ``max``). Only
    modules already imported are touched; nothing imports PyG here.
    """
    modules = [m for name, m in list(sys.modules.items())
               if name.startswith("torch_geometric") and m is not None]
    original = getattr(sys.modules.get("torch_geometric.utils._scatter"), "scatter", None)
    if original is None:
        yield
        return

    def scatter(src: Any, index: Any, dim: int = 0, dim_size: int | None = None,
                reduce: str = "sum") -> Any:
        if reduce in ("max", "min", "amax", "amin"):
            return _scatter_extreme(src, index, dim, dim_size, reduce[-3:])
        return original(src, index, dim, dim_size, reduce)

    patched = [m for m in modules if getattr(m, "scatter", None) is original]
    for module in patched:
        module.scatter = scatter  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.scatter = original  # type: ignore[attr-defined]


def _scatter_extreme(src: Any, index: Any, dim: int, dim_size: int | None, reduce: str) -> Any:
    import torch

    dim = dim if dim >= 0 else src.dim() + dim
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() else 0
    size = list(src.size())
    size[dim] = dim_size
    if index.dim() == 1:
        shape = [1] * src.dim()
        shape[dim] = -1
        index = index.view(shape).expand_as(src)
    empty = float("-inf") if reduce == "max" else float("inf")
    out = src.new_full(size, empty).scatter_reduce(dim, index, src, reduce=f"a{reduce}",
                                                   include_self=True)
    return torch.where(out == empty, torch.zeros_like(out), out)


def run_onnx(path: Path, names: Sequence[str], inputs: Sequence[Any]) -> Any:
    """Outputs of an ONNX file in onnxruntime (CPU) for torch ``inputs``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError(
            "onnx parity check needs onnxruntime (pip install onnxruntime); "
            "or export with --format pt,torchscript"
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3  # shape-inference chatter is not an error
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, inputs)}
        return session.run(None, feeds)[0]
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        raise ExportError(f"onnx model does not run in onnxruntime: {_first_line(exc)}") from None


def max_abs_error(output: Any, reference: Any) -> float:
    """``max |output - reference|``; infinite when shapes differ or values are not finite."""
    import torch

    output = torch.as_tensor(output).detach().float().cpu()
    reference = torch.as_tensor(reference).detach().float().cpu()
    if output.shape != reference.shape:
        return float("inf")
    diff = (output - reference).abs()
    return float(diff.max()) if diff.numel() and bool(torch.isfinite(diff).all()) else (
        0.0 if not diff.numel() else float("inf"))


def parity_error(output: Any, reference: Any) -> float:
    """``max |output - reference| / max(1, max |reference|)``: absolute for logits up to 1.

    Float32 rounding grows with the outputs' magnitude (ONNX folds BatchNorm
    into convolutions, for one), so logits in the thousands -- an untrained or
    briefly trained CNN -- cannot agree to 1e-4 absolutely even when the export
    is exact; scaling by the largest reference value keeps the check as strict
    as float32 allows. A shape mismatch or non-finite difference is infinite.
    """
    import torch

    error = max_abs_error(output, reference)
    reference = torch.as_tensor(reference).detach().float()
    scale = float(reference.abs().max()) if reference.numel() else 0.0
    return error / max(1.0, scale) if scale == scale and scale != float("inf") else error


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_parity(fmt: str, error: float, where: str) -> None:
    if not error <= PARITY_TOLERANCE:
        raise ExportError(
            f"{fmt} parity check failed: outputs differ from the in-memory model by {error:.3g} "
            f"(max abs difference / max(1, max abs output); tolerance {PARITY_TOLERANCE:g}) "
            f"on {where}"
        )


def _tracer_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    import torch

    # Only the tracer's warnings about frozen Python-side decisions; not deprecation chatter.
    notes = []
    for item in caught:
        if issubclass(item.category, torch.jit.TracerWarning):
            notes.append(str(item.message).splitlines()[0][:200])
    return tuple(dict.fromkeys(notes))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__
