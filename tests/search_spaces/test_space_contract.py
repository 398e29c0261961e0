"""The contract every registered search space keeps (timm-style: one test loops over the registry).

For each space in ``SPACES``: the smallest, the largest and 20 random
architectures (sampled through an Optuna trial, as a search does) validate,
build, run a forward and a backward pass on a small batch of the space's task
family, and give finite logits of the right shape; params and FLOPs grow from
the smallest to the largest. A space added tomorrow is tested by this file.
"""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from nas.metrics import count_flops, count_params
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


def _expected_logits_shape(spec: TaskSpec, batch: Batch) -> tuple[int, ...]:
    if spec.family == "sequence":
        return (*batch.inputs[0].shape, spec.num_classes)
    return (batch.inputs[0].shape[0], spec.num_classes)


def _forward_backward(space, arch: Architecture, spec: TaskSpec, batch: Batch) -> torch.nn.Module:
    model = space.build(arch, spec)
    model.train()
    logits = model(*batch.inputs)
    assert tuple(logits.shape) == _expected_logits_shape(spec, batch), f"{space.name}: {dict(arch)}"
    assert torch.isfinite(logits).all(), f"{space.name}: non-finite logits for {dict(arch)}"
    loss = torch.nn.functional.cross_entropy(*batch.selected(logits))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{space.name}: no gradient"
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    return model


def _random_archs(space, count: int, seed: int) -> list[Architecture]:
    """Architectures drawn the way a search draws them: ``space.sample(trial)``, retried when invalid."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    archs: list[Architecture] = []
    for _ in range(count * 10):
        trial = study.ask()
        try:
            archs.append(space.validate(space.sample(trial)))
        except InvalidArchitecture:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        study.tell(trial, 0.0)
        if len(archs) == count:
            return archs
    raise AssertionError(f"{space.name}: fewer than {count} valid archs in {count * 10} draws")


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    torch.set_num_threads(previous)


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
    small_model = _forward_backward(space, smallest, spec, batch)
    large_model = _forward_backward(space, largest, spec, batch)
    assert count_params(small_model) < count_params(large_model)
    assert count_flops(small_model, batch) < count_flops(large_model, batch)


def test_random_archs_build_run_forward_and_backward(space):
    spec = _spec(space)
    batch = _batch(spec, seed=1)
    archs = _random_archs(space, RANDOM_ARCHS, seed=0)
    assert len({a.key for a in archs}) > RANDOM_ARCHS // 2, "sampling should vary"
    params = []
    for arch in archs:
        assert Architecture.from_json(arch.to_json()) == arch
        encoding = space.encode(arch)
        assert encoding.shape == space.encode(space.default()).shape
        assert all(math.isfinite(float(v)) for v in encoding)
        params.append(count_params(_forward_backward(space, arch, spec, batch)))
    smallest = count_params(space.build(space.smallest(), spec))
    largest = count_params(space.build(space.largest(), spec))
    assert smallest <= min(params) and max(params) <= largest, (
        f"{space.name}: random archs must lie between smallest ({smallest}) and largest ({largest})"
    )


def test_validate_rejects_unknown_and_out_of_range_choices_naming_the_field(space):
    arch = dict(space.default())
    with pytest.raises(InvalidArchitecture, match="no_such_choice"):
        space.validate({**arch, "no_such_choice": 1})
    name = next(iter(space.choices()))
    with pytest.raises(InvalidArchitecture, match=name):
        space.validate({**arch, name: "not-a-valid-value"})
