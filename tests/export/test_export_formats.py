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


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_trace_that_froze_the_wrong_branch_is_refused(fmt, tmp_path):
    model = SignDependent().eval()
    trace_batch, check_batch = _batches()
    with torch.no_grad():
        reference = model(*check_batch.inputs)
    path = tmp_path / formats.PORTABLE_FORMATS[fmt]
    with pytest.raises(ExportError, match=rf"^{fmt} parity check failed: outputs differ from the "
                       r"in-memory model by \d"):
        if fmt == "torchscript":
            formats.write_torchscript(model, trace_batch, check_batch, reference, path)
        else:
            formats.write_onnx(model, "image", trace_batch, check_batch, reference, path)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_faithful_trace_passes_on_another_batch_size(fmt, tmp_path):
    model = SignDependent().eval()
    trace_batch, _ = _batches()
    check_batch = Batch((torch.rand(13, 4) + 0.1,), torch.zeros(13, dtype=torch.long))
    with torch.no_grad():
        reference = model(*check_batch.inputs)
    path = tmp_path / formats.PORTABLE_FORMATS[fmt]
    if fmt == "torchscript":
        result = formats.write_torchscript(model, trace_batch, check_batch, reference, path)
        assert any("might cause the trace to be incorrect" in n for n in result.warnings)
    else:
        result = formats.write_onnx(model, "image", trace_batch, check_batch, reference, path)
    assert path.is_file() and result.parity_error <= formats.PARITY_TOLERANCE


def test_parity_error_is_absolute_for_small_logits_and_relative_for_large():
    reference = torch.tensor([[0.5, -1.0]])
    assert formats.parity_error(reference + 2e-4, reference) == pytest.approx(2e-4, rel=1e-3)
    large = torch.tensor([[3000.0, -10.0]])
    assert formats.parity_error(large + torch.tensor([[0.03, 0.0]]), large) == pytest.approx(1e-5, rel=1e-3)
    assert formats.parity_error(reference[:, :1], reference) == float("inf")
    assert formats.parity_error(reference * float("nan"), reference) == float("inf")
