"""The ``vit`` space: patches and tokens, per-layer choices, and malformed overrides via the CLI."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError, InvalidArchitecture
from search_spaces import TaskSpec, create_space

SPEC = TaskSpec("image", 3, 10, 32)

STUDY = """
name = "bad-override"
[space]
name = "{space}"
[space.choices]
{choices}
[task]
name = "{task}"
[[objectives]]
metric = "val_accuracy"
[budget]
n_trials = 1
"""


@pytest.fixture
def space():
    torch.set_num_threads(1)
    return create_space("vit")


@pytest.mark.parametrize(("patch", "tokens"), [(4, 64), (8, 16)])
def test_patch_size_sets_the_number_of_tokens(space, patch, tokens):
    model = space.build(space.smallest().replace(patch_size=patch), SPEC)
    assert model.pos_embed.shape == (1, tokens, 96)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_a_patch_that_does_not_divide_the_image_is_rejected_naming_it(space):
    with pytest.raises(InvalidArchitecture, match="patch_size 8 does not divide the image side 36"):
        space.build(space.smallest().replace(patch_size=8), TaskSpec("image", 3, 10, 36))


def test_largest_has_the_most_tokens_and_smallest_the_fewest(space):
    assert space.largest()["patch_size"] == 4 and space.largest()["embed_dim"] == 192
    assert space.smallest()["patch_size"] == 8 and space.smallest()["depth"] == 4


def test_per_layer_choices_build_per_layer_blocks(space):
    arch = space.smallest().replace(depth=5, layer2_heads=6, layer2_mlp_ratio=4.0)
    model = space.build(arch, SPEC)
    assert len(model.blocks) == 5
    assert model.blocks[1].attn.heads == 6 and model.blocks[1].mlp.fc1.out_features == 4 * 96
    assert model.blocks[0].attn.heads == 3 and model.blocks[0].mlp.fc1.out_features == 2 * 96
    assert (space.encode(arch) == space.encode(arch.replace(layer6_heads=6))).all()


def test_size_counts_distinct_models(space):
    per_layer = 3 * 3
    assert space.size() == 2 * 3 * sum(per_layer**d for d in (4, 5, 6))


def test_heads_that_do_not_divide_the_embed_dim_are_a_config_error():
    heads = {f"layer{i}_heads": [4] for i in range(1, 7)}
    with pytest.raises(ConfigError, match=r"space.choices.layer3_heads: 6 heads do not divide embed_dim 128"):
        create_space("vit", {**heads, "embed_dim": [96, 128], "layer3_heads": [4, 6]})
    create_space("vit", {**heads, "embed_dim": [96, 128], "layer3_heads": [2, 4]})  # fine


@pytest.mark.parametrize(("space_name", "task", "choices", "field", "why"), [
    ("mobilenet", "cifar10-subset", "s2_b1_kernel = [3, 9]", "space.choices.s2_b1_kernel",
     "9 is not allowed; allowed: 1, 3, 5, 7"),
    ("vit", "cifar10-subset", "depth = []", "space.choices.depth", "must not be empty"),
    ("vit", "cifar10-subset", "embed_dim = [96, 128]\nlayer1_heads = [3]",
     "space.choices.layer1_heads", "3 heads do not divide embed_dim 128"),
    ("charlm", "tinyshakespeare", "model_dim = [64]\nlayer2_heads = [2, 6]",
     "space.choices.layer2_heads", "6 heads do not divide model_dim 64"),
])
def test_nas_validate_reports_a_malformed_override_in_one_line(
    nas_cli, tmp_path, space_name, task, choices, field, why
):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(space=space_name, choices=choices, task=task))
    result = nas_cli("validate", str(study))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0] and why in lines[0], lines[0]
    assert "Traceback" not in result.stderr
