"""AZ-NAS expressivity and progressivity (Lee & Ham 2024)."""

from __future__ import annotations

import pytest
import torch

from nas.errors import NotApplicable
from proxies import PROXIES
from tests.proxies.conftest import linear, tiny_cnn


def test_collapsed_features_are_less_expressive(image_batch) -> None:
    model = tiny_cnn()
    collapsed = tiny_cnn()
    with torch.no_grad():
        conv = collapsed.features[3]
        conv.weight.copy_(conv.weight[:1].expand_as(conv.weight))
    assert PROXIES.get("az_expressivity")(collapsed, image_batch) < PROXIES.get("az_expressivity")(model, image_batch)


def test_progressivity_needs_two_weight_layers(flat_batch, image_batch) -> None:
    with pytest.raises(NotApplicable, match="two weight layers"):
        PROXIES.get("az_progressivity")(linear(), flat_batch)
    assert isinstance(PROXIES.get("az_progressivity")(tiny_cnn(), image_batch), float)
