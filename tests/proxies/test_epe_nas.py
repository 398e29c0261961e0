"""epe_nas (Lopes et al. 2021): per-class Jacobian correlations."""

from __future__ import annotations

import pytest
import torch

from nas.errors import NotApplicable
from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import linear, mlp


def test_epe_nas_is_zero_when_every_class_looks_the_same_and_positive_otherwise(flat_batch) -> None:
    # Balanced classes (2 each) and identical Jacobians: every class has the same statistic.
    assert PROXIES.get("epe_nas")(linear(), flat_batch) == pytest.approx(0.0, abs=1e-9)
    assert PROXIES.get("epe_nas")(mlp(), flat_batch) > 0


def test_epe_nas_does_not_apply_to_token_models() -> None:
    model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.Linear(8, 10))
    tokens = torch.randint(0, 10, (4, 6))
    with pytest.raises(NotApplicable, match="one class label per sample"):
        PROXIES.get("epe_nas")(model, Batch((tokens,), tokens))
