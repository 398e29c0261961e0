"""The cifar10-subset task on the real offline files."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError, DataError
from nas.tasks import create_task
from nas.tasks.image import augment


@pytest.fixture(scope="module")
def task(data_dir):
    task = create_task("cifar10-subset", data_dir=data_dir, seed=3, batch_size=50, train_size=200)
    task.prepare("cpu")
    return task


def test_spec_and_splits_are_disjoint_and_normalised(task):
    spec = task.spec
    assert (spec.family, spec.input_dim, spec.num_classes, spec.input_size) == ("image", 3, 10, 32)
    train_x, _ = task._split("train")
    val_x, val_y = task._split("val")
    test_x, test_y = task._split("test")
    assert len(train_x) == 200 and len(val_y) == 1000 and len(test_y) == 2000
    # The class-sorted file is shuffled before the split: every class is in val.
    assert set(val_y.tolist()) == set(range(10))
    # Normalised with the CIFAR mean/std: roughly zero mean, unit std per channel.
    assert val_x.mean(dim=(0, 2, 3)).abs().max() < 0.15
    assert (val_x.std(dim=(0, 2, 3)) - 1).abs().max() < 0.15
    # No training image appears in val (compare exact pixel rows).
    train_keys = {t.flatten()[:64].numpy().tobytes() for t in train_x}
    assert not any(v.flatten()[:64].numpy().tobytes() in train_keys for v in val_x)


def test_train_batches_are_seeded_and_augmented(task):
    first = [b.inputs[0] for b in task.train_batches(epoch=0)]
    again = [b.inputs[0] for b in task.train_batches(epoch=0)]
    other = [b.inputs[0] for b in task.train_batches(epoch=1)]
    assert len(first) == 4 and first[0].shape == (50, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    plain = create_task("cifar10-subset", data_dir=task.data_dir, seed=3, batch_size=50,
                        train_size=200, augment=False)
    plain.prepare("cpu")
    unaugmented = next(iter(plain.train_batches(epoch=0))).inputs[0]
    assert not torch.equal(unaugmented, first[0])


def test_augment_crops_within_padding_and_flips():
    images = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) + 1
    gen = torch.Generator().manual_seed(0)
    out = augment(images, gen)
    assert out.shape == images.shape
    # Every output pixel is either padding (0) or a pixel of the same image.
    for i in range(2):
        values = set(out[i].flatten().tolist()) - {0.0}
        assert values <= set(images[i].flatten().tolist())
    # Over many draws some images get flipped: row order of a non-padded crop reverses.
    flips = 0
    for seed in range(20):
        crop = augment(images[:1], torch.Generator().manual_seed(seed))[0, 0]
        row = crop[4][crop[4] > 0]
        flips += int(len(row) > 1 and bool(row[0] > row[-1]))
    assert 0 < flips < 20


def test_example_batch_is_seeded_and_evaluate_counts_accuracy(task):
    a, b = task.example_batch(64, seed=1), task.example_batch(64, seed=1)
    c = task.example_batch(64, seed=2)
    assert torch.equal(a.inputs[0], b.inputs[0]) and not torch.equal(a.inputs[0], c.inputs[0])
    assert a.inputs[0].shape == (64, 3, 32, 32) and a.targets.shape == (64,)

    class AlwaysCat(torch.nn.Module):
        def forward(self, x):
            logits = torch.zeros(len(x), 10)
            logits[:, 3] = 1.0
            return logits

    metrics = task.evaluate(AlwaysCat(), "test")
    assert metrics["accuracy"] == pytest.approx(0.1)  # 200 of 2,000 test images are cats


def test_bad_params_and_missing_files_say_why(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="batch_size"):
        create_task("cifar10-subset", data_dir=data_dir, batch_size=0)
    with pytest.raises(ConfigError, match="known: batch_size"):
        create_task("cifar10-subset", data_dir=data_dir, batchsize=4)
    with pytest.raises(ConfigError, match="image_size: must be one of 32, 16, 8, got 12"):
        create_task("cifar10-subset", data_dir=data_dir, image_size=12)
    with pytest.raises(DataError, match="cifar10_train_10000.npz"):
        create_task("cifar10-subset", data_dir=tmp_path).prepare("cpu")


def test_image_size_pools_every_split_and_pads_the_crop_to_scale(task, data_dir):
    small = create_task("cifar10-subset", data_dir=data_dir, seed=3, batch_size=50, train_size=200,
                        image_size=16)
    assert small.prepare("cpu").input_size == 16
    for split in ("train", "val", "test"):
        full, pooled = task._split(split)[0], small._split(split)[0]
        # Same images (same seeded split), each 2x2 block averaged.
        assert torch.allclose(pooled, torch.nn.functional.avg_pool2d(full, 2), atol=1e-6)
    assert next(iter(small.train_batches(epoch=0))).inputs[0].shape == (50, 3, 16, 16)


def test_augment_pad_bounds_the_shift():
    image = torch.zeros(1, 1, 16, 16)
    image[0, 0, 8, 8] = 1.0
    shifts = set()
    for seed in range(200):
        out = augment(image, torch.Generator().manual_seed(seed), pad=2)[0, 0]
        row, col = divmod(int(out.argmax()), 16)
        shifts.add((row - 8, min(abs(col - 8), abs(col - 7))))  # a flip moves column 8 to 7
    assert max(abs(r) for r, _ in shifts) == 2 and max(c for _, c in shifts) == 2
