"""grad_norm (Abdelfattah et al. 2021): summed norms of the loss gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from proxies import PROXIES
from tests.proxies.conftest import linear


def test_grad_norm_of_softmax_regression_matches_the_closed_form(flat_batch) -> None:
    model = linear()
    x, y = flat_batch.inputs[0], flat_batch.targets
    with torch.no_grad():
        residual = (F.softmax(model(x), -1) - F.one_hot(y, 10).float()) / len(y)
        expected = float((residual.T @ x).norm())  # dL/dW; the bias (1-dim) is not scored
    assert abs(PROXIES.get("grad_norm")(model, flat_batch) - expected) < 1e-5


def test_grad_norm_is_zero_when_the_classifier_is_zero_and_inputs_are_zero(flat_batch) -> None:
    model = linear()
    zero = type(flat_batch)((torch.zeros_like(flat_batch.inputs[0]),), flat_batch.targets)
    assert PROXIES.get("grad_norm")(model, zero) == 0.0
