"""Every registered supernet runs any architecture exactly as ``extract(arch)`` does.

One contract test loops over the registry (timm's style), so a supernet added
later is tested the day it lands. Spaces are narrowed with study-file style
overrides and inputs are tiny, to keep the test fast; the slicing rules are the
same as at full size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.errors import InvalidArchitecture
from search_spaces import TaskSpec, create_space
from supernets import SUPERNETS, create_supernet, random_arch

N_ARCHS = 20

# space -> (overrides, spec, inputs(generator))
TINY = {
    "gnn": (
        {"hidden_dim": [16, 32], "heads": [1, 2, 4]},
        TaskSpec("graph", 12, 3),
        lambda g: (torch.randn(30, 12, generator=g), torch.randint(0, 30, (2, 90), generator=g)),
    ),
    "nb201": ({}, TaskSpec("image", 3, 10, 8), lambda g: (torch.randn(2, 3, 8, 8, generator=g),)),
    "mobilenet": (
        {"width_mult": [0.5, 0.75], "s1_depth": [2, 3], "s2_depth": [2, 3], "s3_depth": [2],
         "s4_depth": [2, 3], "s5_depth": [2]},
        TaskSpec("image", 3, 10, 16),
        lambda g: (torch.randn(2, 3, 16, 16, generator=g),),
    ),
    "vit": (
        {"embed_dim": [96, 144], "depth": [4, 5]},
        TaskSpec("image", 3, 10, 16),
        lambda g: (torch.randn(2, 3, 16, 16, generator=g),),
    ),
    "charlm": (
        {"model_dim": [64, 96], "num_layers": [2, 3]},
        TaskSpec("sequence", 17, 17, 12),
        lambda g: (torch.randint(0, 17, (2, 12), generator=g),),
    ),
}


def test_every_registered_supernet_has_a_tiny_setup() -> None:
    assert set(SUPERNETS.names()) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_extract_matches_the_supernet_in_eval_mode(name: str) -> None:
    overrides, spec, make_inputs = TINY[name]
    space = create_space(name, overrides)
    supernet = create_supernet(space, spec, seed=0).eval()
    generator = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(0)
    archs = {random_arch(space, rng) for _ in range(N_ARCHS)}
    archs |= {space.validate(space.largest()), space.validate(space.smallest())}
    with torch.no_grad():
        for arch in archs:
            inputs = make_inputs(generator)
            with supernet.activated(arch):
                expected = supernet(*inputs)
            model = supernet.extract(arch).eval()
            assert type(model) is type(space.build(arch, spec))
            torch.testing.assert_close(model(*inputs), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["gnn", "mobilenet", "nb201"])
def test_subnets_share_weights_and_training_one_moves_the_shared_tensors(name: str) -> None:
    overrides, spec, make_inputs = TINY[name]
    space = create_space(name, overrides)
    supernet = create_supernet(space, spec, seed=0)
    small, large = space.validate(space.smallest()), space.validate(space.largest())
    before = {k: v.clone() for k, v in supernet.extract(large).state_dict().items()}
    with supernet.activated(small):
        out = supernet(*make_inputs(torch.Generator().manual_seed(0)))
    out.square().mean().backward()
    with torch.no_grad():
        for p in supernet.parameters():
            if p.grad is not None:
                p -= p.grad
    after = supernet.extract(large).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    # The small subnet's gradient reached weights the large subnet uses.
    assert changed


def test_set_active_rejects_an_architecture_outside_the_space() -> None:
    overrides, spec, _ = TINY["gnn"]
    space = create_space("gnn", overrides)
    supernet = create_supernet(space, spec, seed=0)
    arch = dict(space.largest(), hidden_dim=256)
    with pytest.raises(InvalidArchitecture, match="hidden_dim"):
        supernet.set_active(arch)


def test_concat_readers_use_the_same_weight_for_a_feature_at_every_width() -> None:
    # With skip=concat the head reads [encoder, conv 1]: conv 1's feature j must meet the same
    # weight column whether hidden_dim is 16 or 32 (a leading slice would hand the narrow
    # subnet's conv-1 columns the wide subnet's encoder columns 16-31).
    overrides, spec, _ = TINY["gnn"]
    space = create_space("gnn", overrides)
    supernet = create_supernet(space, spec, seed=0)
    base = dict(space.largest(), conv="gcn", skip="concat", mp_layers=2, post_layers=1)
    narrow = supernet.subnet_state(space.validate(dict(base, hidden_dim=16)))
    wide = supernet.subnet_state(space.validate(dict(base, hidden_dim=32)))
    for layer, blocks in (("head.0", 3), ("convs.1.lin", 2)):
        for block in range(blocks):
            torch.testing.assert_close(narrow[f"{layer}.weight"][:, block * 16:(block + 1) * 16],
                                       wide[f"{layer}.weight"][: narrow[f"{layer}.weight"].shape[0],
                                                               block * 32:block * 32 + 16])


# space -> a choice fixed to one value: a few-shot group of TINY[space]'s space
FEW_SHOT_GROUP = {
    "gnn": {"batch_norm": [True]},
    "nb201": {"edge_0": ["nor_conv_3x3"]},
    "mobilenet": {"s1_depth": [2]},
    "vit": {"depth": [4]},
    "charlm": {"num_layers": [2]},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_group_that_inherits_the_one_shot_weights_runs_its_archs_as_the_one_shot_did(
        name: str) -> None:
    # Few-shot NAS's warm start: before its own training, a group's supernet must be the
    # one-shot supernet restricted to the group, or the split starts from something else.
    overrides, spec, make_inputs = TINY[name]
    parent = create_supernet(create_space(name, overrides), spec, seed=0).eval()
    group_space = create_space(name, {**overrides, **FEW_SHOT_GROUP[name]})
    child = create_supernet(group_space, spec, seed=1).eval()
    assert child.inherit(parent) == len(child.state_dict())
    generator = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(0)
    archs = {random_arch(group_space, rng) for _ in range(8)} | {group_space.largest()}
    with torch.no_grad():
        for arch in archs:
            inputs = make_inputs(generator)
            with parent.activated(arch):
                expected = parent(*inputs)
            with child.activated(arch):
                torch.testing.assert_close(child(*inputs), expected, rtol=0, atol=1e-5)


def test_inherit_refuses_another_spaces_supernet() -> None:
    from nas.errors import ConfigError

    gnn = create_supernet(create_space("gnn", TINY["gnn"][0]), TINY["gnn"][1], seed=0)
    charlm = create_supernet(create_space("charlm", TINY["charlm"][0]), TINY["charlm"][1], seed=0)
    with pytest.raises(ConfigError, match="supernet 'gnn' cannot inherit the weights of a "
                                          "'charlm' supernet"):
        gnn.inherit(charlm)
