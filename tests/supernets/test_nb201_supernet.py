"""The NB201 supernet's mixed network: exact against ``extract(arch)`` once trained, no per-arch builds.

The generic contract test (test_extract.py) runs an untrained supernet, whose
batch norms map zeros to zeros; here the shared tensors are randomised as
training would leave them, so edges that the mixed network skips (``none``,
dead, fed by an always-zero node) would show if skipping them changed a value.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nas.architecture import Architecture
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from search_spaces import Batch, TaskSpec, create_space
from search_spaces.nb201 import EDGE_NAMES
from supernets import Supernet, create_supernet, random_arch
from supernets.nb201 import live_ops

SPEC = TaskSpec("image", 3, 10, 8)

# node 1 is always zero, yet the convolution it feeds adds its batch norm's constant
ZERO_FED_CONV = ("none", "none", "nor_conv_3x3", "none", "none", "skip_connect")
SPECIAL = [
    ZERO_FED_CONV,
    ("none", "avg_pool_3x3", "skip_connect", "none", "none", "nor_conv_1x1"),  # edge 2 reads zeros
    ("nor_conv_3x3", "nor_conv_1x1", "none", "none", "none", "none"),  # nothing reaches node 3
    ("skip_connect", "none", "nor_conv_3x3", "avg_pool_3x3", "none", "none"),  # node 2 unused
]


def arch_of(ops: tuple[str, ...]) -> Architecture:
    return Architecture(dict(zip(EDGE_NAMES, ops)))


@pytest.fixture(scope="module")
def trained_like() -> Supernet:
    """An NB201 supernet whose weights and BN statistics are random, not the initial ones."""
    supernet = create_supernet(create_space("nb201"), SPEC, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in supernet.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0, generator=generator)
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.3)
    return supernet.eval()


def test_live_ops_keeps_convolutions_fed_by_zero_nodes() -> None:
    assert live_ops(ZERO_FED_CONV) == (None, None, "nor_conv_3x3", None, None, "skip_connect")
    assert live_ops(SPECIAL[1]) == (None, "avg_pool_3x3", None, None, None, "nor_conv_1x1")
    assert live_ops(SPECIAL[2]) == (None,) * 6
    assert live_ops(SPECIAL[3]) == (None, None, None, "avg_pool_3x3", None, None)


def test_mixed_network_matches_extract_with_trained_statistics(trained_like: Supernet) -> None:
    space = trained_like.space
    rng = np.random.default_rng(1)
    archs = [arch_of(ops) for ops in SPECIAL] + [random_arch(space, rng) for _ in range(12)]
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for arch in archs:
            images = torch.randn(2, 3, 8, 8, generator=generator)
            with trained_like.activated(arch):
                expected = trained_like(images)
            model = trained_like.extract(arch).eval()
            torch.testing.assert_close(model(images), expected, rtol=0, atol=1e-5)


def test_recalibrated_statistics_give_the_generic_paths_outputs(trained_like: Supernet) -> None:
    space = trained_like.space
    rng = np.random.default_rng(3)
    generator = torch.Generator().manual_seed(4)
    batches = [Batch((torch.randn(4, 3, 8, 8, generator=generator),), torch.zeros(4).long())
               for _ in range(3)]
    images = torch.randn(2, 3, 8, 8, generator=generator)
    for arch in [arch_of(ZERO_FED_CONV)] + [random_arch(space, rng) for _ in range(4)]:
        mixed, generic = copy.deepcopy(trained_like), copy.deepcopy(trained_like)
        mixed.train()
        with mixed.activated(arch):
            assert mixed.recalibrate_bn(batches) == 3
            assert mixed.training  # the mode is restored
            mixed.eval()
            got = mixed(images)
        with generic.activated(arch), torch.no_grad():  # the template + functional_call path
            Supernet.recalibrate_bn(generic, batches)
            want = Supernet.forward(generic, images)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_moved_supernet_runs_its_moved_tensors(trained_like: Supernet) -> None:
    moved = copy.deepcopy(trained_like).to(torch.float64)
    arch = arch_of(("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3",
                    "nor_conv_3x3", "nor_conv_3x3"))
    images = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    with moved.activated(arch), torch.no_grad():
        out = moved(images.double())
    assert out.dtype == torch.float64
    expected = trained_like.extract(arch).eval()(images)
    # float64 against float32: the values agree to float32's precision (outputs are ~100 here)
    torch.testing.assert_close(out.float(), expected, rtol=1e-4, atol=1e-5)


def test_training_builds_no_model_per_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    space = create_space("nb201")
    supernet = create_supernet(space, SPEC, seed=0)
    builds = []
    real_build = type(space).build
    monkeypatch.setattr(type(space), "build",
                        lambda self, arch, spec: builds.append(arch) or real_build(self, arch, spec))

    class Task:
        def train_batches(self, epoch: int) -> list[Batch]:
            generator = torch.Generator().manual_seed(epoch)
            return [Batch((torch.randn(4, 3, 8, 8, generator=generator),),
                          torch.randint(0, 10, (4,), generator=generator)) for _ in range(20)]

        def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(logits, batch.targets)

    settings = SupernetSettings.from_mapping({"epochs": 1, "sampling": "uniform",
                                              "optimizer": "sgd", "distill": False})
    trainer = SupernetTrainer(supernet, Task(), settings, seed=0)
    before = supernet.extract(space.largest()).state_dict()
    builds.clear()
    loss = trainer.run_epoch()  # 20 steps, 20 random architectures
    assert np.isfinite(loss)
    assert builds == []
    after = supernet.extract(space.largest()).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_fair_sampling_trains_every_op_of_every_edge_once_per_step() -> None:
    supernet = create_supernet(create_space("nb201"), SPEC, seed=0)
    archs = supernet.fair_archs(np.random.default_rng(0))
    assert len(archs) == 5
    for edge in EDGE_NAMES:
        assert sorted(str(a[edge]) for a in archs) == sorted(supernet.space.choices()[edge].values)
    # edges draw independent permutations, so the five are not all one op per arch
    assert any(len({a[e] for e in EDGE_NAMES}) > 1 for a in archs)


def test_a_checkpoint_restores_what_the_mixed_network_runs(trained_like: Supernet, tmp_path) -> None:
    from supernets.checkpoint import load_into, read_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "nb201.pt", {"supernet": trained_like.state_dict()},
                           trained_like, "cifar10-subset")
    fresh = create_supernet(create_space("nb201"), SPEC, seed=1).eval()
    load_into(fresh, read_checkpoint(path), path, task="cifar10-subset")
    arch = arch_of(("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3",
                    "nor_conv_3x3", "nor_conv_1x1"))
    images = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    with torch.no_grad(), fresh.activated(arch), trained_like.activated(arch):
        torch.testing.assert_close(fresh(images), trained_like(images), rtol=0, atol=0)
