"""Image classification on the offline CIFAR-10 subset (10,000 train / 2,000 test images).

Data: ``cifar10/cifar10_train_10000.npz`` and ``cifar10/cifar10_test_2000.npz``
under the data folder (NHWC uint8). Images are normalised with the usual
CIFAR-10 channel mean/std and kept on the task's device as one float tensor,
so minibatches are slices, not a DataLoader. Training batches get the standard
CIFAR augmentation (He et al. 2016): a random 32×32 crop of the 4-pixel
zero-padded image and a horizontal flip with probability 1/2, done in torch on
the device and seeded by ``(task seed, epoch)``.

Splits: the training file is sorted by class, so a seeded permutation (task
``seed``) carves ``val`` (``val_size`` images, 1,000 by default) and ``train``
(the rest, limited to ``train_size`` when given); ``test`` = the 2,000-image file.

Params: ``batch_size`` (128), ``train_size`` (all), ``val_size`` (1000),
``augment`` (true), ``image_size`` (32; 16 or 8 average-pool every split once
at load, and the crop pads ``image_size // 8`` pixels). A smaller image is a
cheaper proxy: NAS-Bench-201's ImageNet16-120 ranks cells at 16×16 much as
CIFAR-10 does at 32×32, and a 16×16 step costs about a quarter of a 32×32 one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import ConfigError
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

    from nas.tasks._inputs import RawInputs

__all__ = ["Cifar10SubsetTask", "CIFAR10_MEAN", "CIFAR10_STD"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
_TRAIN_FILE = "cifar10_train_10000.npz"
_TEST_FILE = "cifar10_test_2000.npz"
_EVAL_BATCH = 500
_IMAGE_SIZES = (32, 16, 8)


@TASKS.register("cifar10-subset")
class Cifar10SubsetTask(Task):
    """CIFAR-10 subset: 10 classes, 32×32 RGB; accuracy on a seeded validation split."""

    name = "cifar10-subset"
    family: ClassVar[str] = "image"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = _positive_int(self.params, "batch_size", 128)
        self.val_size = _positive_int(self.params, "val_size", 1000)
        train_size = self.params.get("train_size")
        self.train_size = None if train_size is None else _positive_int(self.params, "train_size", 0)
        self.augment = bool(self.params.get("augment", True))
        self.image_size = _positive_int(self.params, "image_size", 32)
        if self.image_size not in _IMAGE_SIZES:
            raise ConfigError(f"task.params.image_size: must be one of 32, 16, 8, got "
                              f"{self.image_size!r}")
        unknown = set(self.params) - {"batch_size", "train_size", "val_size", "augment",
                                      "image_size"}
        if unknown:
            raise ConfigError(
                f"task.params: unknown parameter '{sorted(unknown)[0]}' for task '{self.name}'; "
                "known: batch_size, train_size, val_size, augment, image_size"
            )
        if self.val_size >= 10000:
            raise ConfigError("task.params.val_size: must be below 10000 (the training file's size)")
        self._splits: dict[str, tuple[Any, Any]] = {}

    # -- data --------------------------------------------------------------
    def prepare(self, device: Any = "cpu") -> TaskSpec:
        if self._splits and self.device == device:
            assert self._spec is not None
            return self._spec
        import torch

        folder = self.data_dir / "cifar10"
        train_x, train_y = _load_npz(require_file(folder / _TRAIN_FILE, self.name))
        test_x, test_y = _load_npz(require_file(folder / _TEST_FILE, self.name))
        self._raw_files = (folder / _TRAIN_FILE, folder / _TEST_FILE)
        if self.image_size != 32:
            factor = 32 // self.image_size
            train_x = torch.nn.functional.avg_pool2d(train_x, factor)
            test_x = torch.nn.functional.avg_pool2d(test_x, factor)
        # The file is sorted by class: carve a seeded, class-mixed validation split.
        order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = order[: self.val_size], order[self.val_size :]
        if self.train_size is not None:
            train_idx = train_idx[: self.train_size]
        self._splits = {
            "train": (train_x[train_idx].to(device), train_y[train_idx].to(device)),
            "val": (train_x[val_idx].to(device), train_y[val_idx].to(device)),
            "test": (test_x.to(device), test_y.to(device)),
        }
        self.device = device
        self._spec = TaskSpec(family="image", input_dim=3, num_classes=10,
                              input_size=self.image_size,
                              extra={"train_size": int(len(train_idx)), "val_size": self.val_size})
        return self._spec

    # -- batches -----------------------------------------------------------
    def train_batches(self, epoch: int) -> Iterable[Batch]:
        """Shuffled, augmented minibatches of the train split (seeded by seed and epoch)."""
        import torch

        x, y = self._split("train")
        gen = torch.Generator(device="cpu").manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(y), generator=gen).to(x.device)
        for start in range(0, len(y), self.batch_size):
            idx = order[start : start + self.batch_size]
            images = x[idx]
            if self.augment:
                images = augment(images, gen, pad=max(1, self.image_size // 8))
            yield Batch((images,), y[idx])

    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        """``batch_size`` training images picked by ``seed``, not augmented (for proxies)."""
        import torch

        x, y = self._split("train")
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(y), generator=gen)[:batch_size].to(x.device)
        return Batch((x[idx],), y[idx])

    def raw_inputs(self) -> RawInputs:
        """uint8 RGB images ``(N, 32, 32, 3)`` as the files hold them; the export normalises."""
        import numpy as np
        import torch

        from nas.tasks._inputs import ImagePixels, RawInputs, fewer_rows

        if not self._splits:
            self.prepare(self.device)
        order = torch.randperm(10000, generator=torch.Generator().manual_seed(self.seed))

        def pixels(file: Any, pick: Any = None) -> tuple[Any, Any]:
            with np.load(file) as data:
                x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"]).long()
            return (x, y) if pick is None else (x[pick], y[pick])

        def split(name: str) -> Batch:
            if name == "test":
                x, y = pixels(self._raw_files[1])
            elif name in ("val", "train"):
                val, train = order[: self.val_size], order[self.val_size :]
                if self.train_size is not None:
                    train = train[: self.train_size]
                x, y = pixels(self._raw_files[0], val if name == "val" else train)
            else:
                raise ConfigError(f"unknown split '{name}'; splits: train, val, test")
            return Batch((x,), y)

        def example(batch_size: int, seed: int) -> Batch:
            train = split("train")
            x, y = train.inputs[0], train.targets
            idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:batch_size]
            return Batch((x[idx],), y[idx])

        return RawInputs(
            names=("images",),
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            transform=ImagePixels(CIFAR10_MEAN, CIFAR10_STD, pool=32 // self.image_size),
            example=example,
            smaller=fewer_rows,
            split=split,
            recipe="`images`: uint8 RGB pixels `(batch, 32, 32, 3)` (height, width, channel, "
            "as `numpy.asarray(PIL.Image.open(f).convert('RGB').resize((32, 32)))` gives); "
            "the model scales them by 1/255 and the CIFAR-10 channel mean/std itself"
            + (f", then average-pools to {self.image_size}x{self.image_size}"
               if self.image_size != 32 else "") + "; any batch size",
        )

    # -- metrics -----------------------------------------------------------
    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        x, y = self._split(split)
        was_training = model.training
        model.eval()
        correct, loss_sum = 0, 0.0
        with torch.no_grad():
            for start in range(0, len(y), _EVAL_BATCH):
                logits = model(x[start : start + _EVAL_BATCH])
                target = y[start : start + _EVAL_BATCH]
                correct += int((logits.argmax(-1) == target).sum())
                loss_sum += float(F.cross_entropy(logits, target, reduction="sum"))
        model.train(was_training)
        return {"accuracy": correct / len(y), "loss": loss_sum / len(y)}

    def _split(self, split: str) -> tuple[Any, Any]:
        if not self._splits:
            self.prepare(self.device)
        if split not in self._splits:
            raise ConfigError(f"unknown split '{split}'; splits: train, val, test")
        return self._splits[split]


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random ``pad``-px-padded crop + horizontal flip, per image, on ``images``' device.

    Vectorised: pad once, then gather each image's crop with an index grid, so
    a batch costs two tensor ops instead of a Python loop over images.
    """
    import torch
    import torch.nn.functional as F

    n, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device)[None, :])  # (n, h)
    cols = dx[:, None] + torch.arange(w, device=images.device)[None, :]  # (n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch_idx = torch.arange(n, device=images.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch_idx, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def _load_npz(path: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """NHWC uint8 → normalised NCHW float32, and int64 labels."""
    import numpy as np
    import torch

    with np.load(path) as data:
        x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2).float().div_(255.0)
        y = torch.from_numpy(data["y"]).long()
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(), y


def _positive_int(params: dict[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"task.params.{key}: must be a positive integer, got {value!r}")
    return value
