"""AZ-NAS trainability (Lee & Ham 2024): how far each block's backward Jacobian norm is from 1."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from nas.errors import NotApplicable
from proxies import PROXIES
from search_spaces._nb201_network import NB201Network
from tests.proxies.conftest import linear, tiny_cnn

TRAINABILITY = PROXIES.get("az_trainability")


class PointwiseChain(nn.Module):
    """Bias-free 1x1 convs in an ``nn.Sequential`` (the blocks), then pool and classify."""

    def __init__(self, weights: list[torch.Tensor]) -> None:
        super().__init__()
        width = weights[0].shape[0]
        self.blocks = nn.Sequential(*(nn.Conv2d(width, width, 1, bias=False) for _ in weights))
        with torch.no_grad():
            for conv, weight in zip(self.blocks, weights):
                conv.weight.copy_(weight[:, :, None, None])
        self.classifier = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(x).mean((2, 3)))


def _orthogonal(width: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
    return q


def _chain(scale: float, blocks: int = 3) -> PointwiseChain:
    torch.manual_seed(0)
    return PointwiseChain([scale * _orthogonal(3, seed) for seed in range(blocks)])


def test_orthogonal_blocks_score_near_the_optimum_and_scaled_ones_by_the_formula(image_batch) -> None:
    # 20 images x 16x16 positions: E[g g^T] is estimated well, so σ is close to the true norm.
    best = TRAINABILITY(_chain(1.0), image_batch)
    assert best == pytest.approx(0.0, abs=0.1)
    for scale in (3.0, 1 / 3):  # 2 - σ - 1/σ is symmetric in σ <-> 1/σ: both give -4/3
        assert TRAINABILITY(_chain(scale), image_batch) == pytest.approx(2 - 3 - 1 / 3, abs=0.25)
        assert TRAINABILITY(_chain(scale), image_batch) < best


def test_an_identity_block_scores_minus_infinity(image_batch) -> None:
    model = PointwiseChain([_orthogonal(3, 0), torch.eye(3), _orthogonal(3, 1)])
    assert TRAINABILITY(model, image_batch) == -math.inf


def test_finite_and_repeatable_for_a_seed(image_batch) -> None:
    torch.manual_seed(0)
    nb201 = NB201Network(("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3",
                          "none"), num_classes=10, channels=4, cells_per_stage=1)
    for model in (tiny_cnn(), nb201):
        first = TRAINABILITY(model, image_batch, seed=3)
        assert math.isfinite(first)
        assert TRAINABILITY(model, image_batch, seed=3) == first


def test_leaves_the_callers_model_untouched(image_batch) -> None:
    model = tiny_cnn()
    model.eval()
    model(image_batch.inputs[0]).sum().backward()
    before = {n: (p.detach().clone(), p.grad.clone()) for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    TRAINABILITY(model, image_batch)
    assert not model.training
    for name, param in model.named_parameters():
        assert torch.equal(param, before[name][0]) and torch.equal(param.grad, before[name][1])
    for name, buffer in model.named_buffers():
        assert torch.equal(buffer, buffers[name])


def test_needs_a_chain_of_blocks(flat_batch) -> None:
    with pytest.raises(NotApplicable, match="chain"):
        TRAINABILITY(linear(), flat_batch)
