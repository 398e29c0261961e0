"""plain (Mozer & Smolensky 1989): signed sum of w * dL/dw."""

from __future__ import annotations

import torch

from proxies import PROXIES
from tests.proxies.conftest import linear


def test_plain_is_signed_and_flips_with_the_weights(flat_batch) -> None:
    # L(-W) on inputs -x equals L(W) on x, so the gradient flips too and w*g is unchanged;
    # flipping only the weights changes the loss, and plain must see the sign of w*g.
    model = linear()
    score = PROXIES.get("plain")(model, flat_batch)
    snip = PROXIES.get("snip")(model, flat_batch)
    assert abs(score) < snip  # signed terms cancel; snip sums their magnitudes
    flipped = linear()
    with torch.no_grad():
        flipped.weight.neg_()
    mirrored = type(flat_batch)((-flat_batch.inputs[0],), flat_batch.targets)
    assert abs(PROXIES.get("plain")(flipped, mirrored) - score) < 1e-6
