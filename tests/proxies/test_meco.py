"""meco (Jiang et al. 2023): smallest eigenvalue of the channel correlation of feature maps."""

from __future__ import annotations

import torch

from proxies import PROXIES
from tests.proxies.conftest import tiny_cnn


def test_redundant_channels_score_lower(image_batch) -> None:
    model = tiny_cnn()
    redundant = tiny_cnn()
    with torch.no_grad():  # every channel of both convs the same filter: correlation matrix of ones
        for conv in (redundant.features[0], redundant.features[3]):
            conv.weight.copy_(conv.weight[:1].expand_as(conv.weight))
    assert PROXIES.get("meco")(redundant, image_batch) < PROXIES.get("meco")(model, image_batch)
