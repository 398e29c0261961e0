"""vkdnw (Tybl & Neumann 2025): entropy of the Fisher spectrum of one weight per tensor."""

from __future__ import annotations

import math

import torch

from proxies import PROXIES
from proxies.vkdnw import decile_entropy
from search_spaces._nb201_network import NB201Network
from tests.proxies.conftest import tiny_cnn

CELL = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect")


def test_a_finite_score_that_repeats_and_leaves_the_model_as_it_was(image_batch) -> None:
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = PROXIES.get("vkdnw")(model, image_batch)
    assert math.isfinite(first) and 0.0 < first <= math.log(9)
    assert PROXIES.get("vkdnw")(model, image_batch) == first
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats and weights untouched
    assert all(isinstance(m, torch.nn.BatchNorm2d) and m.track_running_stats
               for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_a_net_blind_to_its_input_scores_lowest(image_batch) -> None:
    blind = tiny_cnn()
    with torch.no_grad():  # the second conv outputs zeros: the logits no longer depend on the image
        blind.features[3].weight.zero_()
    assert PROXIES.get("vkdnw")(blind, image_batch) == 0.0
    assert PROXIES.get("vkdnw")(tiny_cnn(), image_batch) > 0.0


def test_the_single_score_ranks_deeper_nb201_nets_first(image_batch) -> None:
    torch.manual_seed(0)
    shallow = NB201Network(CELL, num_classes=10, channels=4, cells_per_stage=1)
    deep = NB201Network(CELL, num_classes=10, channels=4, cells_per_stage=2)
    single = PROXIES.get("vkdnw_single")
    s_shallow, s_deep = single(shallow, image_batch), single(deep, image_batch)
    tensors = lambda m: sum(p.requires_grad for p in m.parameters())  # noqa: E731
    assert s_deep > s_shallow
    # the integer part counts parameter tensors, the fraction is the entropy scaled below one
    assert math.floor(s_shallow) == tensors(shallow) and math.floor(s_deep) == tensors(deep)
    entropy = PROXIES.get("vkdnw")(shallow, image_batch)
    assert math.isclose(s_shallow - tensors(shallow), entropy / (math.log(9) + 1e-6), rel_tol=1e-9)


def test_a_flat_spectrum_has_the_largest_entropy() -> None:
    assert math.isclose(decile_entropy(torch.ones(50)), math.log(9), rel_tol=1e-12)
    assert decile_entropy(torch.logspace(-8, 0, 50)) < math.log(9)
    assert decile_entropy(torch.zeros(10)) == 0.0
