"""params (Abdelfattah et al. 2021 baseline): the count of trainable parameters."""

from __future__ import annotations

from proxies import PROXIES
from tests.proxies.conftest import tiny_cnn


def test_params_equals_the_sum_of_numel_of_trainable_parameters(image_batch) -> None:
    model = tiny_cnn()
    expected = sum(p.numel() for p in model.parameters())
    assert PROXIES.get("params")(model, image_batch) == expected
    model.classifier.requires_grad_(False)  # frozen weights are not searched over
    assert PROXIES.get("params")(model, image_batch) == expected - model.classifier.weight.numel() - 10
