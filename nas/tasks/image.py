"""Image classification from the user's files, and the CIFAR-10 subset preset over it.

``image-classification`` reads ``path``: a folder in ImageFolder layout (one
sub-folder per class of PNG/JPEG images, read with Pillow) or an ``.npz``
with ``x`` (N×H×W×C, or N×H×W for grey) and ``y`` (N labels). Any size and
channel count: the spaces build their stem for ``input_dim`` channels and
their classifier for ``num_classes``. ``val_path``/``test_path`` give
separate validation/test sets; without them a seeded permutation (task
``seed``) carves ``val`` (``val_size`` images, or ``val_fraction``) and
``test`` (``test_size`` or ``test_fraction``) off the data, and ``train`` is
the rest (limited to ``train_size`` when given).

Images are kept on the task's device as one float tensor normalised per
channel with the mean/std of the *training split* (or ``mean``/``std`` when
given); the statistics travel in ``spec.extra`` and so with every export,
so the export applies exactly the normalisation the search used. Training
batches may get the standard augmentation (He et al. 2016; ``augment``): a
random crop of the zero-padded image and a horizontal flip, seeded by
``(task seed, epoch)`` — off by default, since a flip is wrong for digits
or text.

``cifar10-subset`` is this task over ``cifar10/cifar10_train_10000.npz``
(validation carved from it) and ``cifar10_test_2000.npz`` (test), with the
usual CIFAR-10 mean/std and augmentation on. ``image_size`` (a divisor of the
image side) average-pools every split once at load: a smaller image is a
cheaper proxy (NAS-Bench-201's ImageNet16-120 ranks cells at 16×16 much as
CIFAR-10 does at 32×32).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import ConfigError, DataError
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from nas.tasks._files import check_labels, existing, read_image_folder, read_image_npz
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = ["ImageClassificationTask", "Cifar10SubsetTask", "CIFAR10_MEAN", "CIFAR10_STD"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
_TRAIN_FILE = "cifar10_train_10000.npz"
_TEST_FILE = "cifar10_test_2000.npz"
_EVAL_BATCH = 500
_PARAMS = ("path", "val_path", "test_path", "val_size", "test_size", "val_fraction",
           "test_fraction", "train_size", "batch_size", "augment", "image_size", "mean", "std")


@TASKS.register("image-classification")
class ImageClassificationTask(Task):
    """Images and labels from an ImageFolder or an ``.npz``; accuracy on a seeded validation split."""

    name = "image-classification"
    family: ClassVar[str] = "image"
    #: parameter defaults; a preset changes them
    defaults: ClassVar[dict[str, Any]] = {"batch_size": 128, "val_fraction": 0.1,
                                          "test_fraction": 0.1, "augment": False}
    #: the parameters a study file may set
    known_params: ClassVar[tuple[str, ...]] = _PARAMS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = sorted(set(self.params) - set(self.known_params))
        if unknown:
            raise ConfigError(f"task.params: unknown parameter '{unknown[0]}' for task "
                              f"'{self.name}'; known: {', '.join(self.known_params)}")
        params = {**self.defaults, **self.params}
        self.options = params
        self.batch_size = _positive_int(params, "batch_size", 128)
        train_size = params.get("train_size")
        self.train_size = None if train_size is None else _positive_int(params, "train_size", 0)
        self.augment = bool(params.get("augment", False))
        image_size = params.get("image_size")
        self.image_size = None if image_size is None else _positive_int(params, "image_size", 0)
        for key in ("val_fraction", "test_fraction"):
            value = params.get(key)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or not 0 <= value < 1):
                raise ConfigError(f"task.params.{key}: must be a number in [0, 1), got {value!r}")
        for key in ("mean", "std"):
            value = params.get(key)
            if value is not None and (not isinstance(value, (list, tuple)) or not value or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise ConfigError(f"task.params.{key}: must be a list of numbers, one per channel")
        if params.get("std") is not None and min(params["std"]) <= 0:
            raise ConfigError("task.params.std: every value must be positive")
        self._splits: dict[str, tuple[Any, Any]] = {}

    # -- data --------------------------------------------------------------
    def sources(self) -> dict[str, Any]:
        """``{"path": ..., "val_path": ..., "test_path": ...}``; a preset overrides it."""
        return {key: self.options.get(key) for key in ("path", "val_path", "test_path")}

    def prepare(self, device: Any = "cpu") -> TaskSpec:
        if self._splits and self.device == device:
            assert self._spec is not None
            return self._spec
        import numpy as np
        import torch

        sources = self.sources()
        x, y, classes = self._read("task.params.path", sources["path"], None)
        held: dict[str, tuple[Any, Any]] = {}
        for split in ("val", "test"):
            if sources[f"{split}_path"] is not None:
                sx, sy, _ = self._read(f"task.params.{split}_path", sources[f"{split}_path"], classes)
                if sx.shape[1:] != x.shape[1:]:
                    raise DataError(f"task.params.{split}_path: images are {sx.shape[1:]} (H×W×C), "
                                    f"the training images {x.shape[1:]}")
                held[split] = (sx, sy)
        num_classes = len(classes) if classes else int(y.max()) + 1 if len(y) else 0
        for split, (_, labels) in [("path", (x, y)), *((f"{s}_path", v) for s, v in held.items())]:
            check_labels(f"task.params.{split}", labels, num_classes)
        if num_classes < 2:
            raise DataError(f"task.params.path: {num_classes} class(es); classification needs 2 or more")
        # Carve what no file gives: val first, then test, from a seeded permutation.
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed)).numpy()
        counts = {s: self._count(s, len(y)) for s in ("val", "test") if s not in held}
        if sum(counts.values()) >= len(y):
            raise DataError(f"task.params: val and test take all {len(y)} images; the train split is empty")
        index, start = {}, 0
        for split, count in counts.items():
            index[split], start = order[start:start + count], start + count
        index["train"] = order[start:][: self.train_size]
        for split in ("val", "test"):
            if split in index and len(index[split]) == 0:
                raise DataError(f"task.params.{split}_fraction: the {split} split is empty "
                                f"({len(y)} images); give a larger fraction or a {split}_path")
        mean, std = self._statistics(x[index["train"]])
        images = {"train": x, **{s: v[0] for s, v in held.items()}}
        labels = {"train": y, **{s: v[1] for s, v in held.items()}}
        tensors = {key: self._normalise(value, mean, std) for key, value in images.items()}
        splits = {}
        for split in ("train", "val", "test"):
            if split in held:
                splits[split] = (tensors[split], torch.from_numpy(labels[split]))
            else:
                idx = torch.from_numpy(np.asarray(index[split], dtype=np.int64))
                splits[split] = (tensors["train"][idx], torch.from_numpy(labels["train"])[idx])
        self._splits = {k: (v[0].to(device), v[1].to(device)) for k, v in splits.items()}
        self.device = device
        side = int(self._splits["train"][0].shape[-1])
        self._spec = TaskSpec(
            family="image", input_dim=int(x.shape[-1]), num_classes=num_classes, input_size=side,
            extra={"train_size": int(len(splits["train"][1])), "val_size": int(len(splits["val"][1])),
                   "mean": [float(m) for m in mean], "std": [float(s) for s in std],
                   "classes": list(classes) if classes else [str(c) for c in range(num_classes)]},
        )
        return self._spec

    def _read(self, key: str, value: Any, classes: list[str] | None) -> tuple[Any, Any, Any]:
        path = existing(key, value, folder_ok=True)
        if path.is_dir():
            return read_image_folder(key, path, classes)
        if path.suffix.lower() != ".npz":
            raise DataError(f"{key}: {path.name} is neither an ImageFolder nor an .npz file")
        x, y, names = read_image_npz(key, path)
        if len(y) == 0:
            raise DataError(f"{key}: {path.name} holds no images")
        return x, y, names if names else classes

    def _count(self, split: str, total: int) -> int:
        size = self.options.get(f"{split}_size")
        if size is not None:
            size = _positive_int(self.options, f"{split}_size", 0)
            if size >= total:
                raise ConfigError(f"task.params.{split}_size: must be below {total} (the data's size)")
            return size
        return int(round(float(self.options.get(f"{split}_fraction") or 0.0) * total))

    def _statistics(self, train_images: Any) -> tuple[list[float], list[float]]:
        """Per-channel mean/std of the training split (in [0, 1] units), unless given."""
        channels = train_images.shape[-1]
        given = [self.options.get("mean"), self.options.get("std")]
        for key, value in zip(("mean", "std"), given):
            if value is not None and len(value) != channels:
                raise ConfigError(f"task.params.{key}: {len(value)} values for {channels} channel(s)")
        pixels = train_images.reshape(-1, channels).astype("float64") / 255.0
        mean = given[0] if given[0] is not None else pixels.mean(axis=0).tolist()
        std = given[1] if given[1] is not None else [max(float(s), 1e-6) for s in pixels.std(axis=0)]
        return [float(m) for m in mean], [float(s) for s in std]

    def _normalise(self, images: Any, mean: list[float], std: list[float]) -> Any:
        """NHWC uint8 → normalised NCHW float32, average-pooled to ``image_size``."""
        import torch

        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        channels = x.shape[1]
        x = ((x - torch.tensor(mean, dtype=torch.float32).view(1, channels, 1, 1))
             / torch.tensor(std, dtype=torch.float32).view(1, channels, 1, 1)).contiguous()
        if self.image_size is not None and self.image_size != x.shape[-1]:
            side = x.shape[-1]
            if side % self.image_size or x.shape[-2] % self.image_size:
                raise ConfigError(f"task.params.image_size: must divide the image side {side}, "
                                  f"got {self.image_size}")
            x = torch.nn.functional.avg_pool2d(x, side // self.image_size)
        return x

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
                images = augment(images, gen, pad=max(1, images.shape[-1] // 8))
            yield Batch((images,), y[idx])

    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        """``batch_size`` training images picked by ``seed``, not augmented (for proxies)."""
        import torch

        x, y = self._split("train")
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(y), generator=gen)[:batch_size].to(x.device)
        return Batch((x[idx],), y[idx])

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


def _positive_int(params: dict[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"task.params.{key}: must be a positive integer, got {value!r}")
    return value


@TASKS.register("cifar10-subset")
class Cifar10SubsetTask(ImageClassificationTask):
    """CIFAR-10 subset: 10 classes, 32×32 RGB; accuracy on a seeded validation split.

    Params: ``batch_size`` (128), ``train_size`` (all), ``val_size`` (1000),
    ``augment`` (true), ``image_size`` (32, 16 or 8).
    """

    name = "cifar10-subset"
    defaults: ClassVar[dict[str, Any]] = {"batch_size": 128, "val_size": 1000, "augment": True,
                                          "mean": list(CIFAR10_MEAN), "std": list(CIFAR10_STD)}
    known_params: ClassVar[tuple[str, ...]] = ("batch_size", "train_size", "val_size", "augment",
                                               "image_size")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.image_size is not None and self.image_size not in (32, 16, 8):
            raise ConfigError(f"task.params.image_size: must be one of 32, 16, 8, got "
                              f"{self.image_size!r}")
        if self.options["val_size"] >= 10000:
            raise ConfigError("task.params.val_size: must be below 10000 (the training file's size)")

    def sources(self) -> dict[str, Any]:
        folder = Path(self.data_dir) / "cifar10"
        return {"path": require_file(folder / _TRAIN_FILE, self.name), "val_path": None,
                "test_path": require_file(folder / _TEST_FILE, self.name)}
