"""Writing portable model files (TorchScript, ONNX) and proving they match the model.

Both formats are produced by *tracing* the in-memory model on a real batch, so
Python-side control flow is frozen to the path that batch takes; that is why
every written file is run again on a *different* real batch (another seed and
batch size where the family allows it) and compared with the in-memory model:
a file whose outputs differ by more than :data:`PARITY_TOLERANCE` is refused
with an :class:`~nas.errors.ExportError`, never shipped.

Used by :mod:`nas.export`; nothing here knows about studies or trials.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import ExportError

if TYPE_CHECKING:
    import torch

    from search_spaces import Batch

__all__ = [
    "PARITY_TOLERANCE",
    "PORTABLE_FORMATS",
    "FormatResult",
    "input_names",
    "dynamic_axes",
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
class FormatResult:
    """One written format: its file name and its measured parity error."""

    format: str
    file: str
    parity_error: float
    warnings: tuple[str, ...] = ()


def input_names(family: str, count: int) -> list[str]:
    """Positional input names by family (they name the ONNX graph's inputs)."""
    names = {"graph": ["x", "edge_index"], "image": ["images"], "sequence": ["tokens"]}
    chosen = names.get(family, [])
    return chosen if len(chosen) == count else [f"input_{i}" for i in range(count)]


def dynamic_axes(family: str, names: Sequence[str]) -> dict[str, dict[int, str]]:
    """Which input/output dimensions may vary between calls of the exported model.

    Image and sequence models take any batch size; a graph model any number of
    nodes and edges (the traced graph may still fix sizes -- the parity check
    only proves the batch it was given).
    """
    if family == "graph" and list(names) == ["x", "edge_index"]:
        return {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "logits": {0: "nodes"}}
    if family in ("image", "sequence"):
        return {**{n: {0: "batch"} for n in names}, "logits": {0: "batch"}}
    return {}


def write_torchscript(
    model: torch.nn.Module, trace_batch: Batch, check_batch: Batch, reference: Any, path: Path
) -> FormatResult:
    """Trace ``model`` on ``trace_batch``, save it, reload it and compare on ``check_batch``."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                traced = torch.jit.trace(model, tuple(trace_batch.inputs), check_trace=False)
        except Exception as exc:  # noqa: BLE001 - any tracer failure means "not supported"
            raise ExportError(
                f"torchscript export is not supported for this model: {_first_line(exc)}"
            ) from None
    traced.save(str(path))
    reloaded = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        output = reloaded(*check_batch.inputs)
    error = parity_error(output, reference)
    _check_parity("torchscript", error)
    return FormatResult("torchscript", path.name, error, _tracer_notes(caught))


def write_onnx(
    model: torch.nn.Module, family: str, trace_batch: Batch, check_batch: Batch, reference: Any,
    path: Path,
) -> FormatResult:
    """Export to ONNX (opset 18), run it in onnxruntime on ``check_batch`` and compare."""
    import torch

    names = input_names(family, len(trace_batch.inputs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        buffer = io.BytesIO()
        try:
            torch.onnx.export(
                model, tuple(trace_batch.inputs), buffer, dynamo=False,
                input_names=names, output_names=["logits"], opset_version=ONNX_OPSET,
                dynamic_axes=dynamic_axes(family, names), do_constant_folding=True,
            )
        except Exception as exc:  # noqa: BLE001 - an unsupported op or tracer failure
            raise ExportError(f"onnx export is not supported for this model: {_first_line(exc)}") from None
    path.write_bytes(buffer.getvalue())
    output = run_onnx(path, names, check_batch.inputs)
    error = parity_error(torch.from_numpy(output), reference)
    _check_parity("onnx", error)
    return FormatResult("onnx", path.name, error, _tracer_notes(caught))


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


def _check_parity(fmt: str, error: float) -> None:
    if not error <= PARITY_TOLERANCE:
        raise ExportError(
            f"{fmt} parity check failed: outputs differ from the in-memory model by {error:.3g} "
            f"(max abs difference / max(1, max abs output); tolerance {PARITY_TOLERANCE:g}) "
            "on a real batch"
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
