"""Size and speed metrics: exact FLOPs for known layers (attention and message passing included),
latency statistics with pinned threads, peak memory, and batch resizing."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from nas.metrics import (
    count_flops,
    count_params,
    hardware_metrics,
    measure_latency,
    peak_memory_mb,
    resize_batch,
)
from search_spaces import Batch
from search_spaces._transformer import SelfAttention


class _Graph(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = GCNConv(4, 3)

    def forward(self, x, edge_index):  # type: ignore[no-untyped-def]
        return self.conv(x, edge_index)


def _images(n: int = 3) -> Batch:
    return Batch((torch.randn(n, 3, 8, 8),), torch.zeros(n, dtype=torch.long))


def test_params_count_trainable_weights_only():
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Linear(4, 2))
    assert count_params(model) == 8 * 4 + 4 + 4 * 2 + 2
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 4 + 4 * 2 + 2


def test_flops_of_linear_and_conv_are_two_per_multiply_accumulate():
    linear = torch.nn.Linear(8, 4)
    assert count_flops(linear, Batch((torch.randn(3, 8),), None)) == 2 * 3 * 8 * 4
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    assert count_flops(conv, Batch((torch.randn(1, 3, 8, 8),), None)) == 2 * (4 * 8 * 8) * (3 * 3 * 3)


def test_attention_flops_are_counted_on_cpu():
    batch, tokens, dim, heads = 2, 5, 8, 2
    attention = SelfAttention(dim, heads)
    projections = 2 * batch * tokens * dim * (3 * dim) + 2 * batch * tokens * dim * dim
    scores_and_mixing = 2 * (2 * batch * heads * tokens * tokens * (dim // heads))
    x = Batch((torch.randn(batch, tokens, dim),), None)
    assert count_flops(attention, x) == projections + scores_and_mixing


def test_message_passing_flops_are_counted_per_edge_and_channel():
    nodes, edges = 6, 10
    x = torch.randn(nodes, 4)
    edge_index = torch.randint(0, nodes, (2, edges), generator=torch.Generator().manual_seed(0))
    model = _Graph()
    dense = 2 * nodes * 4 * 3
    assert count_flops(model, Batch((x, edge_index), None)) == dense + 2 * edges * 3


def test_counting_flops_keeps_the_training_mode():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    count_flops(model, Batch((torch.randn(2, 4),), None))
    assert model.training


def test_latency_reports_median_and_p90_with_pinned_threads():
    torch.set_num_threads(2)
    model = torch.nn.Conv2d(3, 8, 3).train()
    latency = measure_latency(model, _images(), warmup=1, repeats=7, threads=1)
    assert 0 < latency.median_ms <= latency.p90_ms
    assert latency.repeats == 7 and latency.threads == 1
    assert torch.get_num_threads() == 2 and model.training  # both restored


def test_peak_memory_counts_parameters_and_activations():
    model = torch.nn.Linear(1000, 500)
    batch = Batch((torch.randn(4, 1000),), None)
    expected = (1000 * 500 + 500 + 4 * 500) * 4 / 2**20
    assert peak_memory_mb(model, batch) == pytest.approx(expected)


def test_resize_batch_repeats_rows_and_leaves_graphs_alone():
    batch = Batch((torch.arange(3.0)[:, None],), torch.arange(3))
    resized = resize_batch(batch, 7)
    assert resized.inputs[0].squeeze(1).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert resized.targets.tolist() == [0, 1, 2, 0, 1, 2, 0]
    graph = Batch((torch.randn(5, 4), torch.zeros(2, 3, dtype=torch.long)), torch.zeros(5),
                  torch.ones(5, dtype=torch.bool))
    assert resize_batch(graph, 2) is graph


def test_hardware_metrics_are_named_like_study_objectives():
    metrics = hardware_metrics(torch.nn.Conv2d(3, 4, 3), _images(2), batch_size=5, repeats=3)
    assert set(metrics) == {"params", "flops", "latency_ms", "latency_p90_ms", "peak_memory_mb"}
    assert metrics["flops"] == 2 * 5 * (4 * 6 * 6) * (3 * 3 * 3)  # measured at batch size 5
