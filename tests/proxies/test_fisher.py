"""fisher (Theis et al. 2018): per-channel 0.5 * mean_n (a * dL/da)^2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from proxies import PROXIES
from tests.proxies.conftest import linear, tiny_cnn


def test_fisher_of_softmax_regression_matches_the_closed_form(flat_batch) -> None:
    model = linear()
    x, y = flat_batch.inputs[0], flat_batch.targets
    with torch.no_grad():
        z = model(x)
        dz = (F.softmax(z, -1) - F.one_hot(y, 10).float()) / len(y)
        expected = float(0.5 * (z * dz).pow(2).mean(0).sum())
    assert abs(PROXIES.get("fisher")(model, flat_batch) - expected) < 1e-6 * max(1.0, expected)


def test_a_dead_layer_adds_no_fisher_saliency(image_batch) -> None:
    model = tiny_cnn()
    dead = tiny_cnn()
    with torch.no_grad():
        dead.classifier.weight.zero_()  # no gradient reaches any activation but the logits
        dead.classifier.bias.zero_()
    assert PROXIES.get("fisher")(dead, image_batch) == 0.0 < PROXIES.get("fisher")(model, image_batch)
