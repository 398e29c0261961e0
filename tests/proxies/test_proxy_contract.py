"""Every registered proxy on one GNN, one CNN and one transformer: a float or a typed reason.

Loops over the registry (as timm's model tests do), so a new proxy is tested the day it lands.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nas.errors import NotApplicable
from nas.tasks import create_task
from proxies import PROXIES, score
from search_spaces import Batch, create_space
from search_spaces._nb201_network import NB201Network

NB201_CELL = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect")
CHARLM_SMALL = {"num_layers": [2], "model_dim": [64], "layer1_heads": [2], "layer1_ffn_dim": [128],
                "layer2_heads": [2], "layer2_ffn_dim": [128]}


def _gnn(data_dir: Path) -> tuple[torch.nn.Module, Batch]:
    task = create_task("synthetic-graph", data_dir=data_dir, num_nodes=80, num_features=8)
    spec = task.prepare("cpu")
    space = create_space("gnn", {"hidden_dim": [16], "mp_layers": [2], "propagation_steps": [0]})
    torch.manual_seed(0)
    return space.build(space.smallest(), spec), task.example_batch(seed=0)


def _cnn(cifar_images) -> tuple[torch.nn.Module, Batch]:
    torch.manual_seed(0)  # the NAS-Bench-201 network, narrowed (C=4, one cell per stage)
    model = NB201Network(NB201_CELL, num_classes=10, channels=4, cells_per_stage=1)
    return model, Batch((cifar_images[0][:10],), cifar_images[1][:10])


def _transformer(data_dir: Path) -> tuple[torch.nn.Module, Batch]:
    task = create_task("synthetic-seq", data_dir=data_dir, seq_len=8)
    spec = task.prepare("cpu")
    space = create_space("charlm", CHARLM_SMALL)
    torch.manual_seed(0)
    return space.build(space.smallest(), spec), task.example_batch(batch_size=4, seed=0)


@pytest.fixture(scope="module", params=["gnn", "cnn", "transformer"])
def family_results(request, data_dir, cifar_images):
    torch.set_num_threads(1)
    model, batch = {"gnn": lambda: _gnn(data_dir), "cnn": lambda: _cnn(cifar_images),
                    "transformer": lambda: _transformer(data_dir)}[request.param]()
    return request.param, model, batch, score(model, batch)


def test_every_proxy_gives_a_float_or_a_typed_reason(family_results) -> None:
    family, _, _, results = family_results
    assert set(results) == set(PROXIES.names())
    for name, result in results.items():
        assert result.seconds >= 0
        if result.score is None:
            assert result.reason, f"{family}/{name}: no score and no reason"
            assert not result.reason.startswith("failed"), f"{family}/{name} crashed: {result.reason}"
        else:
            assert isinstance(result.score, float) and math.isfinite(result.score), (family, name)


def test_a_direct_call_raises_not_applicable_exactly_where_score_gives_a_reason(family_results) -> None:
    family, model, batch, results = family_results
    for name, result in results.items():
        if result.score is None and result.reason and not result.reason.startswith("non-finite"):
            with pytest.raises(NotApplicable):
                PROXIES.get(name)(model, batch)


def test_most_proxies_apply_to_every_family(family_results) -> None:
    family, _, _, results = family_results
    applied = [n for n, r in results.items() if r.score is not None]
    assert len(applied) >= 14, f"{family}: only {applied}"
