"""zen (Lin et al. 2021): output change under input perturbation, Gaussian weights."""

from __future__ import annotations

import torch

from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import tiny_cnn


def test_zen_ignores_the_trained_weights_and_the_data_values(image_batch) -> None:
    model = tiny_cnn()
    base = PROXIES.get("zen")(model, image_batch)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(7.0)
    noise = Batch((torch.randn_like(image_batch.inputs[0]),), image_batch.targets)
    assert PROXIES.get("zen")(model, noise) == base


def test_zen_grows_with_width(image_batch) -> None:
    assert PROXIES.get("zen")(tiny_cnn(width=32), image_batch) > PROXIES.get("zen")(tiny_cnn(width=2), image_batch)
