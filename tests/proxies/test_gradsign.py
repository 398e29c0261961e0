"""gradsign (Zhang & Jia 2022): agreement of per-sample gradient signs."""

from __future__ import annotations

import torch

from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import linear


def test_identical_samples_agree_on_every_sign(flat_batch) -> None:
    model = linear()
    x, y = flat_batch.inputs[0], flat_batch.targets
    n = 8
    same = Batch((x[:1].expand(n, -1).contiguous(),), y[:1].expand(n).contiguous())
    grad = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x[:1]), y[:1]), model.weight)[0]
    assert PROXIES.get("gradsign")(model, same) == n * int((grad != 0).sum())
    assert PROXIES.get("gradsign")(model, Batch((x[:n],), y[:n])) < n * grad.numel()
