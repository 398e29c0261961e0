"""The model card (``card.md``) of an exported trial: what it is, how good, how it was measured.

Model cards after Mitchell et al. (2019), cut to what a NAS export can state
honestly: every figure says its *fidelity* (how it was obtained: trained,
table lookup, proxy, supernet, measured at export), because a proxy score or a
supernet accuracy is not the accuracy of the shipped weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CardFacts", "render_card"]


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states, gathered by :mod:`nas.export`."""

    study: str
    trial: int
    space: str
    task: str
    data_task: str
    task_params: Mapping[str, Any]
    arch: Mapping[str, Any]
    objectives: Sequence[tuple[str, str, float | None]]  # (metric, direction, value)
    fidelity: str
    trial_metrics: Mapping[str, float]
    weights_source: str
    weights_description: str
    measured_at_export: Mapping[str, float]
    params: int
    flops: int
    latency_ms: float
    latency_p90_ms: float
    latency_batch: str
    inputs: Sequence[Mapping[str, Any]]
    #: what raw input the model takes (``Task.raw_inputs().recipe``)
    input_recipe: str
    formats: Mapping[str, float]  # format -> parity error
    skipped_formats: Mapping[str, str]
    tracer_notes: Sequence[str]
    versions: Mapping[str, str]
    parity_batch: str
    created_at: str
    extra_attrs: Mapping[str, Any] = field(default_factory=dict)


def render_card(facts: CardFacts) -> str:
    """Markdown text of the card."""
    lines = [
        f"# {facts.space} model — study `{facts.study}`, trial {facts.trial}",
        "",
        f"Exported {facts.created_at} by `nas export`. Search space `{facts.space}`, "
        f"task `{facts.task}`"
        + (f" (data for training and checks: `{facts.data_task}`)" if facts.data_task != facts.task else "")
        + ".",
        "",
        "## Weights",
        "",
        f"Source: **{facts.weights_source}** — {facts.weights_description}.",
        "",
        "## Objectives (as scored in the study)",
        "",
        "| objective | direction | value | fidelity |",
        "|---|---|---|---|",
    ]
    for metric, direction, value in facts.objectives:
        lines.append(f"| {metric} | {direction} | {_fmt(value)} | {_fidelity_of(metric, facts.fidelity)} |")
    others = {k: v for k, v in facts.trial_metrics.items() if k not in {o[0] for o in facts.objectives}}
    if others:
        lines += ["", "Other figures recorded for the trial (same fidelity rules):", "",
                  "| metric | value | fidelity |", "|---|---|---|"]
        for name, value in sorted(others.items()):
            lines.append(f"| {name} | {_fmt(value)} | {_fidelity_of(name, facts.fidelity)} |")
    lines += [
        "",
        f"Fidelity `{facts.fidelity}` means: {_FIDELITY_MEANING.get(facts.fidelity, 'as recorded by the evaluator')}.",
        "",
        "## Measured at export (these weights, this machine, CPU)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| params (trainable) | {facts.params:,} |",
        f"| FLOPs (one forward pass, {facts.latency_batch}) | {facts.flops:,} |",
        f"| latency median / p90 (1 thread, {facts.latency_batch}) | "
        f"{facts.latency_ms:.3f} ms / {facts.latency_p90_ms:.3f} ms |",
    ]
    for name, value in sorted(facts.measured_at_export.items()):
        label = ("test accuracy of these files on raw test inputs"
                 if name == "test_accuracy_raw_inputs" else name)
        lines.append(f"| {label} (`{facts.data_task}`) | {_fmt(value)} |")
    lines += ["", "## Files and parity", "",
              "| file | format | parity error vs. in-memory model |", "|---|---|---|",
              "| model.pt | state dict + architecture (`torch.load(weights_only=True)`) | reference |"]
    names = {"torchscript": "model.ts", "onnx": "model.onnx"}
    for fmt, error in facts.formats.items():
        lines.append(f"| {names[fmt]} | {fmt} | {error:.2e} |")
    lines += ["", f"Parity was checked on {facts.parity_batch}; the error is the largest absolute "
              "difference divided by max(1, largest absolute output), and the export fails if it "
              "exceeds 1e-4."]
    for fmt, reason in facts.skipped_formats.items():
        lines.append(f"- {fmt} not written: {reason}")
    if facts.tracer_notes:
        lines += ["", "Tracing froze Python-side decisions to the example batch; the tracer said:"]
        lines += [f"- {note}" for note in facts.tracer_notes[:5]]
    lines += ["", "## Inputs (raw: the preprocessing is inside every file)", "",
              f"{facts.input_recipe}.", "",
              "| name | shape (of the traced batch) | dtype | varies |", "|---|---|---|---|"]
    for spec in facts.inputs:
        varies = ", ".join(f"dim {d}: {n}" for d, n in spec.get("dynamic", {}).items()) or "—"
        lines.append(f"| {spec['name']} | {tuple(spec['shape'])} | {spec['dtype']} | {varies} |")
    lines += [
        "",
        "## Architecture",
        "",
        "```json",
        json.dumps(dict(facts.arch), indent=2, sort_keys=True),
        "```",
        "",
        "## Data",
        "",
        f"Task `{facts.task}` with parameters `{json.dumps(dict(facts.task_params), sort_keys=True)}`.",
        "",
        "## How to load it",
        "",
        "With nas installed (rebuilds the module from the space and loads the state dict):",
        "",
        "```python",
        "import nas",
        "model, arch = nas.load(\"<this folder>\")   # eval mode",
        "```",
        "",
        *_portable_snippets(facts),
        "## Versions",
        "",
        ", ".join(f"{k} {v}" for k, v in sorted(facts.versions.items())),
        "",
    ]
    return "\n".join(lines)


def _portable_snippets(facts: CardFacts) -> list[str]:
    """How to run the files that were written, without nas (each snippet runs as written)."""
    lines = [
        "With torch only (no nas installed): "
        + ("`model.ts` is self-contained; " if "torchscript" in facts.formats else "")
        + "`model.pt` holds the weights and the architecture as data, but rebuilding the module "
        "from them needs the search space's code, i.e. nas.",
        "",
        "```python",
        "import torch",
        "payload = torch.load(\"model.pt\", weights_only=True)  # arch, state_dict, inputs, metrics",
    ]
    if "torchscript" in facts.formats:
        feeds = ", ".join(f"torch.as_tensor({_example_array(s)})" for s in facts.inputs)
        lines += ["model = torch.jit.load(\"model.ts\")          # TorchScript: raw inputs, as below",
                  "import numpy as np",
                  f"logits = model({feeds})"]
    lines += ["```", ""]
    if "onnx" in facts.formats:
        lines += ["With onnxruntime only (raw inputs; replace the example arrays by your data):", "",
                  "```python", "import numpy as np", "import onnxruntime as ort",
                  "session = ort.InferenceSession(\"model.onnx\", providers=[\"CPUExecutionProvider\"])"]
        feeds = ", ".join(f"{s['name']!r}: {_example_array(s)}" for s in facts.inputs)
        lines += [f"logits = session.run(None, {{{feeds}}})[0]", "```", ""]
    return lines


def _example_array(spec: Mapping[str, Any]) -> str:
    """A small numpy array of the input's dtype and shape (varying dimensions at 2)."""
    shape = tuple(2 if int(d) in {int(k) for k in spec.get("dynamic", {})} else int(n)
                  for d, n in enumerate(spec["shape"]))
    dtype = spec["dtype"]
    if dtype.startswith("float"):
        return f"np.random.rand{shape}.astype(np.{dtype})"
    high = 256 if dtype == "uint8" else 2
    return f"np.random.randint(0, {high}, {shape}).astype(np.{dtype})"


_FIDELITY_MEANING = {
    "train": "the standalone model was trained and evaluated (the highest fidelity)",
    "tabular": "looked up in the NAS-Bench-201 table (200-epoch training in the benchmark), "
    "not measured on these weights",
    "proxy": "a zero-cost proxy score at initialisation, not an accuracy",
    "supernet": "evaluated with weights inherited from a supernet, not trained standalone",
}
_SIZE_METRICS = ("params", "flops")


def _fidelity_of(metric: str, fidelity: str) -> str:
    if metric in _SIZE_METRICS:
        return "exact (counted)"
    if metric.startswith(("latency", "peak_memory")):
        return "measured during the search"
    return fidelity


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)
