"""synflow (Tanaka et al. 2020) and its BN-in-train-mode variant."""

from __future__ import annotations

import torch

from proxies import PROXIES
from search_spaces import Batch
from tests.proxies.conftest import linear, tiny_cnn


def test_synflow_ignores_the_input_data(image_batch) -> None:
    model = tiny_cnn()
    noise = Batch((torch.randn_like(image_batch.inputs[0]) * 5,), image_batch.targets.flip(0))
    for name in ("synflow", "synflow_bn_train"):
        assert PROXIES.get(name)(model, image_batch) == PROXIES.get(name)(model, noise)


def test_synflow_of_a_linear_layer_is_its_path_norm(flat_batch) -> None:
    # For f(x) = Wx + b on a ones input, R = sum|W| + sum|b| and dR/dW = 1, so synflow = sum |W|.
    model = linear()
    assert abs(PROXIES.get("synflow")(model, flat_batch) - float(model.weight.detach().double().abs().sum())) < 1e-9


def test_a_network_pruned_to_zero_scores_lowest(image_batch) -> None:
    model = tiny_cnn()
    pruned = tiny_cnn()
    with torch.no_grad():
        pruned.features[3].weight.zero_()  # no path from input to output is left
    full = PROXIES.get("synflow")(model, image_batch)
    assert full > 0
    assert PROXIES.get("synflow")(pruned, image_batch) == 0.0


def test_batch_norm_mode_is_what_tells_the_two_variants_apart(image_batch) -> None:
    model = tiny_cnn()
    eval_mode = PROXIES.get("synflow")(model, image_batch)
    train_mode = PROXIES.get("synflow_bn_train")(model, image_batch)
    assert eval_mode != train_mode
    no_bn = tiny_cnn()
    no_bn.features[1] = torch.nn.Identity()
    no_bn.features[4] = torch.nn.Identity()
    assert PROXIES.get("synflow")(no_bn, image_batch) == PROXIES.get("synflow_bn_train")(no_bn, image_batch)
