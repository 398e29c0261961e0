"""swap (Peng et al. 2024): distinct per-unit activation patterns."""

from __future__ import annotations

import torch

from proxies import PROXIES


def test_swap_counts_distinct_patterns_not_units(flat_batch) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(48, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    varied = PROXIES.get("swap")(model, flat_batch)
    assert 1 < varied <= 16
    with torch.no_grad():  # 16 copies of one unit: one pattern
        model[0].weight.copy_(model[0].weight[:1].expand(16, -1))
        model[0].bias.fill_(float(model[0].bias[0]))
    assert PROXIES.get("swap")(model, flat_batch) == 1.0
