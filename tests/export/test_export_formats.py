"""The parity check refuses a traced file that does not behave like the model (no study needed)."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ExportError
from nas.export import _formats as formats
from search_spaces import Batch


class SignDependent(torch.nn.Module):
    """Python-side control flow: tracing freezes the branch the example batch takes."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.sum()) > 0:
            return self.linear(x)
        return -self.linear(x)


def _batches():
    torch.manual_seed(0)
    positive = torch.rand(8, 4) + 0.1
    return Batch((positive,), torch.zeros(8, dtype=torch.long)), Batch(
        (-positive[:5],), torch.zeros(5, dtype=torch.long))


_AXES = {"x": {0: "batch"}, "logits": {0: "batch"}}


def _write(fmt, model, trace_batch, checks, path):
    if fmt == "torchscript":
        return formats.write_torchscript(model, trace_batch.inputs, checks, path)
    return formats.write_onnx(model, ["x"], _AXES, trace_batch.inputs, checks, path)


def _check(model, batch, what="a test batch"):
    with torch.no_grad():
        return formats.Check(batch.inputs, model(*batch.inputs), what)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_trace_that_froze_the_wrong_branch_is_refused(fmt, tmp_path):
    model = SignDependent().eval()
    trace_batch, check_batch = _batches()
    path = tmp_path / formats.PORTABLE_FORMATS[fmt]
    with pytest.raises(ExportError, match=rf"^{fmt} parity check failed: outputs differ from the "
                       r"in-memory model by \d.* on negative inputs$"):
        _write(fmt, model, trace_batch, [_check(model, trace_batch),
                                         _check(model, check_batch, "negative inputs")], path)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_faithful_trace_passes_on_another_batch_size(fmt, tmp_path):
    model = SignDependent().eval()
    trace_batch, _ = _batches()
    check_batch = Batch((torch.rand(13, 4) + 0.1,), torch.zeros(13, dtype=torch.long))
    path = tmp_path / formats.PORTABLE_FORMATS[fmt]
    result = _write(fmt, model, trace_batch, [_check(model, check_batch)], path)
    if fmt == "torchscript":
        assert any("might cause the trace to be incorrect" in n for n in result.warnings)
    assert path.is_file() and result.parity_error <= formats.PARITY_TOLERANCE


@pytest.mark.parametrize("conv", ["sage", "gin", "graphconv"])
def test_max_aggregation_exports_to_onnx_with_isolated_nodes(conv, tmp_path):
    from nas.architecture import Architecture
    from search_spaces import TaskSpec, create_space

    space = create_space("gnn", {})
    arch = Architecture({**space.default(), "conv": conv, "aggregation": "max", "mp_layers": 2,
                         "hidden_dim": 16, "propagation_steps": 0})
    torch.manual_seed(0)
    model = space.build(arch, TaskSpec("graph", 12, 3)).eval()
    generator = torch.Generator().manual_seed(0)
    graphs = [Batch((torch.randn(n, 12, generator=generator),
                     torch.randint(0, n, (2, e), generator=generator)), torch.zeros(n))
              for n, e in ((40, 120), (25, 10))]  # the second leaves most nodes without edges
    names, axes = ["x", "edge_index"], {"x": {0: "n"}, "edge_index": {1: "e"}, "logits": {0: "n"}}
    result = formats.write_onnx(model, names, axes, graphs[0].inputs,
                                [_check(model, g) for g in graphs], tmp_path / "model.onnx")
    assert result.parity_error <= 1e-5


def test_parity_error_is_absolute_for_small_logits_and_relative_for_large():
    reference = torch.tensor([[0.5, -1.0]])
    assert formats.parity_error(reference + 2e-4, reference) == pytest.approx(2e-4, rel=1e-3)
    large = torch.tensor([[3000.0, -10.0]])
    assert formats.parity_error(large + torch.tensor([[0.03, 0.0]]), large) == pytest.approx(1e-5, rel=1e-3)
    assert formats.parity_error(reference[:, :1], reference) == float("inf")
    assert formats.parity_error(reference * float("nan"), reference) == float("inf")
