"""nwot (Mellor et al. 2021, NASWOT): log-determinant of the activation-pattern kernel."""

from __future__ import annotations

import math

import torch

from proxies import PROXIES
from tests.proxies.conftest import mlp


def test_nwot_differs_for_different_activation_patterns(flat_batch) -> None:
    varied = PROXIES.get("nwot")(mlp(), flat_batch)
    assert math.isfinite(varied)
    same = mlp()
    with torch.no_grad():  # every unit on for every sample: all codes equal, K is singular
        same[0].bias.fill_(1e3)
        same[2].bias.fill_(1e3)
    assert PROXIES.get("nwot")(same, flat_batch) == float("-inf")


def test_nwot_of_one_relu_layer_is_the_logdet_of_the_hamming_kernel(flat_batch) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(48, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    codes = (model[0](flat_batch.inputs[0]) > 0).double()
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    expected = float(torch.linalg.slogdet(kernel).logabsdet)
    assert abs(PROXIES.get("nwot")(model, flat_batch) - expected) < 1e-9
