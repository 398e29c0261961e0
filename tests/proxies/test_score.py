"""``proxies.score``: isolation from the caller, determinism, NaN handling, unknown names."""

from __future__ import annotations

import logging

import pytest
import torch

from nas.errors import UnknownNameError
from proxies import PROXIES, score
from tests.proxies.conftest import tiny_cnn

DATA_DEPENDENT = ["snip", "grad_norm", "jacob_cov", "nwot", "fisher", "zico", "zen", "grasp"]


def test_score_leaves_the_callers_model_and_rng_untouched(image_batch) -> None:
    model = tiny_cnn()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    score(model, image_batch, DATA_DEPENDENT + ["synflow"], seed=5)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats included


def test_score_is_deterministic_for_a_seed(image_batch) -> None:
    model = tiny_cnn()
    model.features.insert(3, torch.nn.Dropout(0.5))  # randomness inside the forward pass
    first = score(model, image_batch, DATA_DEPENDENT, seed=1)
    again = score(model, image_batch, DATA_DEPENDENT, seed=1)
    other = score(model, image_batch, DATA_DEPENDENT, seed=2)
    assert {n: r.score for n, r in first.items()} == {n: r.score for n, r in again.items()}
    assert first["snip"].score != other["snip"].score  # the seed does reach the dropout masks


def test_a_proxy_scores_the_same_alone_and_beside_others(image_batch) -> None:
    model = tiny_cnn()
    together = score(model, image_batch, DATA_DEPENDENT, seed=0)
    for name in ("snip", "nwot", "grasp"):
        assert score(model, image_batch, [name], seed=0)[name].score == together[name].score
        assert PROXIES.get(name)(model, image_batch, seed=0) == together[name].score


def test_a_nan_model_gives_none_and_a_warning(image_batch, caplog) -> None:
    model = tiny_cnn()
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("nan")
    with caplog.at_level(logging.WARNING, logger="proxies"):
        results = score(model, image_batch, ["snip", "grad_norm", "synflow"])
    for name in ("snip", "grad_norm", "synflow"):
        assert results[name].score is None
        assert "non-finite" in results[name].reason
        assert any(name in record.getMessage() for record in caplog.records)


def test_an_unknown_proxy_name_lists_the_known_ones(image_batch) -> None:
    with pytest.raises(UnknownNameError) as info:
        score(tiny_cnn(), image_batch, ["synflow", "snipp"])
    message = str(info.value)
    assert "unknown proxy 'snipp'" in message and "did you mean 'snip'" in message
    assert all(name in message for name in PROXIES.names())


def test_score_times_every_proxy_and_shares_the_main_pass(image_batch) -> None:
    results = score(tiny_cnn(), image_batch, ["snip", "grad_norm", "params"])
    assert all(r.seconds > 0 for r in results.values())
    # snip and grad_norm share one pass, so they are charged the same share of it
    assert results["snip"].seconds == pytest.approx(results["grad_norm"].seconds, rel=0.5, abs=5e-3)


class _Broken(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError("this model cannot run")


def test_a_model_that_raises_costs_reasons_not_a_crash(image_batch, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="proxies"):
        results = score(_Broken(), image_batch, ["snip", "synflow", "params"])
    assert results["params"].score == 4 * 2 + 2  # needs no forward pass
    for name in ("snip", "synflow"):
        assert results[name].score is None and "cannot run" in results[name].reason
    assert any("cannot run" in record.getMessage() for record in caplog.records)
