"""Every op of the cell, elastic-CNN and transformer spaces exports to ONNX, with dynamic axes.

No study needed: each model is built from its space, exported through the
exporter's own ``write_onnx`` (traced on one batch) and run by onnxruntime on
a batch of another size (and, for the character model, shorter sequences).
The gnn convs are covered on real, trained models in ``test_export_raw_inputs``.
"""

from __future__ import annotations

import pytest
import torch

from nas.architecture import Architecture
from nas.export import _formats as formats
from search_spaces import TaskSpec, create_space
from search_spaces._nb201_network import OP_NAMES

IMAGE = TaskSpec("image", 3, 10, 16)
TEXT = TaskSpec("sequence", 20, 20, 24)


def _cases() -> list[tuple[str, str, TaskSpec, object]]:
    cases: list[tuple[str, str, TaskSpec, object]] = []
    nb201 = create_space("nb201", {})
    for op in OP_NAMES:  # every edge the same op: the op alone decides the output
        cases.append(("nb201", op, IMAGE, lambda op=op: Architecture(
            dict.fromkeys(nb201.choices(), op))))
    for name, spec in (("mobilenet", IMAGE), ("vit", IMAGE), ("charlm", TEXT)):
        space = create_space(name, {})
        for which in ("smallest", "largest"):
            cases.append((name, which, spec, getattr(space, which)))
    mobilenet = create_space("mobilenet", {})
    for kernel, expand in ((1, 1), (3, 2), (7, 6)):  # kernel/expansion values outside the defaults
        def arch(kernel=kernel, expand=expand):
            values = dict(mobilenet.smallest())
            values.update({k: kernel for k in values if k.endswith("_kernel")})
            values.update({k: expand for k in values if k.endswith("_expand")})
            return Architecture(values)
        cases.append(("mobilenet", f"kernel{kernel}-expand{expand}", IMAGE, arch))
    return cases


@pytest.mark.parametrize(("space_name", "label", "spec", "make_arch"), _cases(),
                         ids=[f"{c[0]}-{c[1]}" for c in _cases()])
def test_every_op_exports_to_onnx(space_name, label, spec, make_arch, tmp_path):
    space = create_space(space_name, {})
    arch = make_arch()
    if space_name == "mobilenet" and label.startswith("kernel"):
        space = create_space(space_name, {k: [v] for k, v in arch.to_dict().items()
                                          if k.endswith(("_kernel", "_expand"))})
    torch.manual_seed(0)
    model = space.build(space.validate(arch), spec).eval()
    generator = torch.Generator().manual_seed(0)
    if spec.family == "image":
        batches = [torch.randn(n, 3, 16, 16, generator=generator) for n in (4, 3)]
        axes = {"inputs": {0: "batch"}, "logits": {0: "batch"}}
    else:
        batches = [torch.randint(0, 20, shape, generator=generator) for shape in ((4, 24), (3, 9))]
        axes = {"inputs": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"}}
    checks = []
    for batch in batches:
        with torch.no_grad():
            checks.append(formats.Check((batch,), model(batch), f"shape {tuple(batch.shape)}"))
    result = formats.write_onnx(model, ["inputs"], axes, (batches[0],), checks,
                                tmp_path / "model.onnx")
    assert result.parity_error <= formats.PARITY_TOLERANCE
