"""l2_norm (Abdelfattah et al. 2021 baseline): summed weight norms, data-free."""

from __future__ import annotations

import torch

from proxies import PROXIES
from tests.proxies.conftest import tiny_cnn


def test_l2_norm_is_the_sum_of_weight_norms_and_scales_linearly(image_batch) -> None:
    model = tiny_cnn()
    weights = [model.features[0].weight, model.features[3].weight, model.classifier.weight]
    expected = sum(float(w.detach().norm()) for w in weights)
    assert abs(PROXIES.get("l2_norm")(model, image_batch) - expected) < 1e-4
    with torch.no_grad():
        for w in weights:
            w.mul_(3)
    assert abs(PROXIES.get("l2_norm")(model, image_batch) - 3 * expected) < 1e-3
