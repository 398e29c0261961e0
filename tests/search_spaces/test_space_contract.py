"""The contract every registered search space keeps (timm-style: one test loops over the registry).

For each space in ``SPACES``: the smallest, the largest and 20 random
architectures (sampled through an Optuna trial, as a search does) validate,
build, run a forward and a backward pass on a small batch of the space's task
family, and give finite logits of the right shape; params and FLOPs grow from
the smallest to the largest. A space added tomorrow is tested by this file. The
sampling, round-trip and build checks are ``nas/plugin_contract.py``'s, the ones
``nas check-plugin`` runs on a user's space.
"""

from __future__ import annotations

import pytest
import torch

from nas.errors import InvalidArchitecture
from nas.metrics import count_flops, count_params
from nas.plugin_contract import (
    check_forward_backward,
    check_refuses_unknown_choice,
    check_round_trip,
    sample_architectures,
)
from search_spaces import SPACES, Batch, TaskSpec

RANDOM_ARCHS = 20

#: a small task shape per family: 32x32 RGB images, a 16-token vocabulary, a 40-node graph
SPECS = {
    "image": TaskSpec("image", 3, 10, 32),
    "sequence": TaskSpec("sequence", 16, 16, 24),
    "graph": TaskSpec("graph", 12, 5),
}


def _batch(spec: TaskSpec, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    if spec.family == "image":
        images = torch.randn(2, spec.input_dim, spec.input_size, spec.input_size, generator=generator)
        return Batch((images,), torch.randint(0, spec.num_classes, (2,), generator=generator))
    if spec.family == "sequence":
        tokens = torch.randint(0, spec.input_dim, (2, spec.input_size + 1), generator=generator)
        return Batch((tokens[:, :-1],), tokens[:, 1:])
    nodes = 40
    x = torch.randn(nodes, spec.input_dim, generator=generator)
    edge_index = torch.randint(0, nodes, (2, 160), generator=generator)
    mask = torch.zeros(nodes, dtype=torch.bool)
    mask[:20] = True
    return Batch((x, edge_index), torch.randint(0, spec.num_classes, (nodes,), generator=generator),
                 mask)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(params=SPACES.names())
def space(request):
    return SPACES.get(request.param)()


def _spec(space) -> TaskSpec:
    return SPECS[space.families[0]]


def test_space_declares_its_name_families_and_size(space):
    assert space.name and space.families
    assert set(space.families) & set(SPECS) or space.families[0] in SPECS
    size = space.size()
    assert size is None or size >= 2
    assert space.choices(), "a space needs choices"


def test_smallest_and_largest_validate_and_grow_in_params_and_flops(space):
    spec, batch = _spec(space), _batch(_spec(space))
    smallest, largest = space.validate(space.smallest()), space.validate(space.largest())
    small_model = check_forward_backward(space, smallest, spec, batch.inputs)
    large_model = check_forward_backward(space, largest, spec, batch.inputs)
    assert count_params(small_model) < count_params(large_model)
    assert count_flops(small_model, batch) < count_flops(large_model, batch)


def test_random_archs_build_run_forward_and_backward(space):
    spec = _spec(space)
    batch = _batch(spec, seed=1)
    archs = sample_architectures(space, RANDOM_ARCHS, seed=0)
    assert len({a.key for a in archs}) > RANDOM_ARCHS // 2, "sampling should vary"
    check_round_trip(space, [space.default(), *archs])
    params = [count_params(check_forward_backward(space, arch, spec, batch.inputs))
              for arch in archs]
    smallest = count_params(space.build(space.smallest(), spec))
    largest = count_params(space.build(space.largest(), spec))
    assert smallest <= min(params) and max(params) <= largest, (
        f"{space.name}: random archs must lie between smallest ({smallest}) and largest ({largest})"
    )


def test_validate_rejects_unknown_and_out_of_range_choices_naming_the_field(space):
    check_refuses_unknown_choice(space)
    arch = dict(space.default())
    name = next(iter(space.choices()))
    with pytest.raises(InvalidArchitecture, match=name):
        space.validate({**arch, name: "not-a-valid-value"})
