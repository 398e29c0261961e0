"""grasp (Wang et al. 2020): sum(-θ ⊙ Hg)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.functional import hvp

from proxies import PROXIES
from tests.proxies.conftest import linear


def test_grasp_of_softmax_regression_matches_an_independent_hessian_vector_product(flat_batch) -> None:
    model = linear()
    x, y = flat_batch.inputs[0], flat_batch.targets
    bias = model.bias.detach()

    def loss(weight: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x @ weight.T + bias, y)

    weight = model.weight.detach().clone()
    grad = torch.autograd.functional.jacobian(loss, weight)
    _, hg = hvp(loss, weight, grad)
    expected = float((-weight * hg).sum())
    assert abs(PROXIES.get("grasp")(model, flat_batch) - expected) < 1e-6 + 1e-4 * abs(expected)
