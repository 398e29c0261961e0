"""Tiny models and real CIFAR-10 images for the proxy tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from search_spaces import Batch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every proxy test with one torch thread (a conftest cannot carry a ``pytestmark``)."""


@pytest.fixture(scope="session")
def cifar_images(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Two real CIFAR-10 test images per class (20), normalised, downsampled to 16x16."""
    with np.load(data_dir / "cifar10" / "cifar10_test_2000.npz") as data:
        x, y = data["x"], data["y"]
    pick = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(10)])
    images = torch.from_numpy(x[pick].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    images = (images - images.mean((0, 2, 3), keepdim=True)) / images.std((0, 2, 3), keepdim=True)
    images = nn.functional.avg_pool2d(images, 2)
    return images.contiguous(), torch.from_numpy(y[pick].astype(np.int64))


@pytest.fixture
def image_batch(cifar_images) -> Batch:
    return Batch((cifar_images[0],), cifar_images[1])


@pytest.fixture
def flat_batch(cifar_images) -> Batch:
    """The same images as flat 48-dim vectors (4x4 average-pooled), for linear models."""
    x = nn.functional.avg_pool2d(cifar_images[0], 4).flatten(1)
    return Batch((x,), cifar_images[1])


class TinyCNN(nn.Module):
    """conv-BN-ReLU, conv-BN-ReLU, global pool, linear: the smallest net with every layer kind."""

    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        )
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def tiny_cnn(seed: int = 0, width: int = 8) -> TinyCNN:
    torch.manual_seed(seed)
    return TinyCNN(width)


def mlp(seed: int = 0, inputs: int = 48, hidden: int = 32, classes: int = 10) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


def linear(seed: int = 0, inputs: int = 48, classes: int = 10) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(inputs, classes)
