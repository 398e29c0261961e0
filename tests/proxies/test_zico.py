"""zico (Li et al. 2023): gradient mean over standard deviation across minibatches."""

from __future__ import annotations

import torch

from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import mlp


def test_zico_is_zero_when_both_halves_of_the_batch_give_the_same_gradient(flat_batch) -> None:
    x, y = flat_batch.inputs[0], flat_batch.targets
    half = len(y) // 2
    twice = Batch((torch.cat([x[:half], x[:half]]),), torch.cat([y[:half], y[:half]]))
    assert PROXIES.get("zico")(mlp(), twice) == 0.0  # no variation: every std is zero
    assert PROXIES.get("zico")(mlp(), flat_batch) > 0
