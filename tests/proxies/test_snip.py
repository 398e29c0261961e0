"""snip (Lee et al. 2019): summed |w * dL/dw|."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from proxies import PROXIES
from tests.proxies.conftest import linear, mlp


def test_snip_and_plain_of_softmax_regression_match_the_closed_form(flat_batch) -> None:
    model = linear()
    x, y = flat_batch.inputs[0], flat_batch.targets
    with torch.no_grad():
        grad = ((F.softmax(model(x), -1) - F.one_hot(y, 10).float()) / len(y)).T @ x
        saliency = model.weight * grad
    assert abs(PROXIES.get("snip")(model, flat_batch) - float(saliency.abs().sum())) < 1e-6
    assert abs(PROXIES.get("plain")(model, flat_batch) - float(saliency.sum())) < 1e-6


def test_a_network_pruned_to_zero_scores_lowest_on_snip(flat_batch) -> None:
    pruned = mlp()
    with torch.no_grad():
        pruned[2].weight.zero_()  # nothing flows past the middle layer
        pruned[2].bias.zero_()
    assert PROXIES.get("snip")(pruned, flat_batch) < 1e-12 < PROXIES.get("snip")(mlp(), flat_batch)
