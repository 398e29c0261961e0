"""The ``mobilenet`` space: OFA's elastic depth, kernel, expand ratio and width."""

from __future__ import annotations

import pytest
import torch

from search_spaces import TaskSpec, create_space
from search_spaces._mobilenet_blocks import SqueezeExcite, make_divisible
from search_spaces.mobilenet import STAGES, block_settings

SPEC = TaskSpec("image", 3, 10, 32)


@pytest.fixture
def space():
    torch.set_num_threads(1)
    return create_space("mobilenet")


def test_stages_downsample_32_pixels_to_4(space):
    arch = space.smallest()
    strides = [stride for (_stage, _in, _out, _k, _e, stride, _se, _act) in block_settings(arch)]
    assert strides == [2, 1, 2, 1, 2, 1, 1, 1, 1, 1]
    model = space.build(arch, SPEC).eval()
    with torch.no_grad():
        features = model.stem(torch.randn(1, 3, 32, 32))
        for stage in model.stages:
            for block in stage:
                features = block(features)
    assert features.shape[-2:] == (4, 4)


def test_kernel_expand_and_se_follow_the_arch(space):
    arch = space.smallest().replace(s2_depth=3, s2_b3_kernel=7, s2_b3_expand=6)
    model = space.build(arch, SPEC)
    block = model.stages[1][2]
    out = make_divisible(40 * 0.5)
    assert block.depthwise.conv.kernel_size == (7, 7)
    assert block.expand.conv.out_channels == make_divisible(out * 6)
    assert isinstance(block.se, SqueezeExcite) == STAGES[1][2]
    assert block.residual and not model.stages[1][0].residual  # stride 2 and new width: no skip


@pytest.mark.parametrize("width", [0.5, 0.75, 1.0])
def test_width_multiplier_scales_every_layer(space, width):
    model = space.build(space.smallest().replace(width_mult=width), SPEC)
    assert model.stem.conv.out_channels == make_divisible(16 * width)
    assert model.classifier.in_features == make_divisible(160 * 6 * width)


def test_blocks_beyond_a_stage_depth_are_ignored_like_ofa_elastic_depth(space):
    arch = space.smallest()  # depth 2 everywhere
    other = arch.replace(s3_b4_kernel=7, s5_b3_expand=6)
    assert (space.encode(arch) == space.encode(other)).all()
    assert [len(s) for s in space.build(other, SPEC).stages] == [2] * 5
    assert (space.encode(arch) != space.encode(arch.replace(s3_b1_kernel=7))).any()


def test_size_matches_the_once_for_all_count(space):
    per_block = 3 * 3
    per_stage = sum(per_block**d for d in (2, 3, 4))
    assert space.size() == 3 * per_stage**5  # about 6.5e19, OFA's 2e19 per width
