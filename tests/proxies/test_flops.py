"""flops (Abdelfattah et al. 2021 baseline): forward FLOPs on the batch."""

from __future__ import annotations

from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import linear


def test_flops_of_a_linear_layer_are_two_per_multiply_add_and_scale_with_the_batch(flat_batch) -> None:
    model = linear()  # 48 -> 10
    n = flat_batch.targets.shape[0]
    assert PROXIES.get("flops")(model, flat_batch) == 2 * n * 48 * 10
    half = Batch((flat_batch.inputs[0][: n // 2],), flat_batch.targets[: n // 2])
    assert PROXIES.get("flops")(model, half) == n * 48 * 10
