"""NAS-Bench-201 as tabular tasks: accuracy by table lookup, no training (Dong & Yang 2020).

``nb201-cifar10``, ``nb201-cifar100`` and ``nb201-imagenet16`` describe the
benchmark's three data sets (the spec a model would be built for) and hold the
table ``nb201/nb201_accuracy.csv`` plus the HW-NAS-Bench hardware costs
(Li et al. 2021, ``nb201/nb201_hardware_cifar10.csv``). The ``tabular``
evaluator reads them; the tables load once per process.

The tasks cannot train a model (:class:`NotApplicable`); ``example_batch``
returns real CIFAR-10 images (resized to 16x16 for ImageNet16-120, whose
images are not in the offline data) so that zero-cost proxies can score the
networks this task's spec builds.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nas.errors import DataError, NotApplicable
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from search_spaces import Batch, TaskSpec

__all__ = ["NB201Table", "NB201Task", "load_table", "HARDWARE_METRICS"]

#: HW-NAS-Bench columns, exposed as metrics of the CIFAR-10 task
HARDWARE_METRICS: tuple[str, ...] = (
    "edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency",
    "pixel3_latency", "eyeriss_latency", "eyeriss_energy", "eyeriss_arithmetic_intensity",
    "fpga_latency", "fpga_energy",
)


@dataclass(frozen=True)
class NB201Table:
    """The benchmark's columns as arrays in index order, plus arch string -> index."""

    index_of: dict[str, int]
    arch: tuple[str, ...]
    columns: dict[str, np.ndarray]

    def row(self, arch_string: str) -> int:
        try:
            return self.index_of[arch_string]
        except KeyError:
            raise DataError(f"nb201: arch {arch_string!r} is not in the table") from None

    def value(self, arch_string: str, column: str) -> float:
        return float(self.columns[column][self.row(arch_string)])


def load_table(data_dir: str | Path) -> NB201Table:
    """Both CSVs of ``data_dir/nb201``, cached per process (a few tens of ms once)."""
    return _load_table(str(Path(data_dir).resolve()))


@functools.lru_cache(maxsize=4)
def _load_table(data_dir: str) -> NB201Table:
    folder = Path(data_dir) / "nb201"
    accuracy = _read_csv(require_file(folder / "nb201_accuracy.csv", "nb201"))
    hardware = _read_csv(require_file(folder / "nb201_hardware_cifar10.csv", "nb201"))
    if accuracy["arch"] != hardware["arch"]:
        raise DataError(f"nb201: {folder} has accuracy and hardware tables in different orders")
    columns = {
        name: np.asarray(values, dtype=np.float64)
        for table in (accuracy, hardware)
        for name, values in table.items()
        if name not in ("index", "arch", "canonical_arch")
    }
    arch = tuple(accuracy["arch"])
    indexes = [int(i) for i in accuracy["index"]]
    if indexes != list(range(len(arch))):
        raise DataError(f"nb201: {folder}/nb201_accuracy.csv is not in index order")
    return NB201Table({a: i for i, a in enumerate(arch)}, arch, columns)


def _read_csv(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    return {name: [r[i] for r in rows] for i, name in enumerate(header)}


class NB201Task(Task):
    """One NAS-Bench-201 data set; subclasses name the table columns."""

    family = "tabular"
    dataset: ClassVar[str] = ""
    num_classes: ClassVar[int] = 10
    input_size: ClassVar[int] = 32
    #: table column of the test accuracy and of the validation accuracy (None: not in the table)
    test_column: ClassVar[str] = ""
    valid_column: ClassVar[str | None] = None
    #: whether the HW-NAS-Bench CIFAR-10 costs describe this task's network
    has_hardware: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._table: NB201Table | None = None

    def prepare(self, device: Any = "cpu") -> TaskSpec:
        self.device = device
        if self._table is None:
            self._table = load_table(self.data_dir)
        return self.spec

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("tabular", 3, self.num_classes, self.input_size,
                        extra={"dataset": self.dataset})

    @property
    def table(self) -> NB201Table:
        if self._table is None:
            self.prepare()
        assert self._table is not None
        return self._table

    def train_batches(self, epoch: int) -> Iterable[Batch]:
        raise NotApplicable(f"task '{self.name}' is a lookup table; use the 'tabular' evaluator")

    def evaluate(self, model: Any, split: str) -> dict[str, float]:
        raise NotApplicable(f"task '{self.name}' is a lookup table; use the 'tabular' evaluator")

    def raw_inputs(self) -> Any:
        """uint8 CIFAR-10 images ``(N, 32, 32, 3)``; the export normalises (and resizes to 16)."""
        import torch

        from nas.tasks._inputs import ImagePixels, RawInputs, fewer_rows

        def example(batch_size: int, seed: int) -> Batch:
            path = require_file(self.data_dir / "cifar10" / "cifar10_train_10000.npz", self.name)
            with np.load(path) as data:
                pick = np.sort(np.random.default_rng(seed).choice(len(data["y"]), batch_size,
                                                                  replace=False))
                images, labels = data["x"][pick], data["y"][pick]
            return Batch((torch.from_numpy(images),), torch.from_numpy(labels.astype(np.int64)))

        def split(name: str) -> Batch:
            raise NotApplicable(f"task '{self.name}' is a lookup table; it has no {name} images")

        resize = self.input_size if self.input_size != 32 else 0
        return RawInputs(
            names=("images",),
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            transform=ImagePixels((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), resize=resize),
            example=example,
            smaller=fewer_rows,
            split=split,
            recipe="`images`: uint8 RGB pixels `(batch, 32, 32, 3)`; the model scales them by "
            "1/255 and the CIFAR-10 channel mean/std itself"
            + (f", then resizes to {resize}x{resize} (bilinear)" if resize else "")
            + "; any batch size",
        )

    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        """Seeded real CIFAR-10 training images, normalised (16x16 for ImageNet16-120)."""
        import torch
        import torch.nn.functional as F

        path = require_file(self.data_dir / "cifar10" / "cifar10_train_10000.npz", self.name)
        with np.load(path) as data:
            pick = np.random.default_rng(seed).choice(len(data["y"]), batch_size, replace=False)
            images, labels = data["x"][np.sort(pick)], data["y"][np.sort(pick)]
        mean = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
        std = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
        x = torch.from_numpy(((images.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2))
        if self.input_size != x.shape[-1]:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        y = torch.from_numpy(labels.astype(np.int64))
        return Batch((x.contiguous(),), y).to(self.device)


@TASKS.register("nb201-cifar10")
class NB201Cifar10(NB201Task):
    """CIFAR-10: test = NB201 ``ori-test``; validation = ``cifar10_valid`` (train/valid split)."""

    name = "nb201-cifar10"
    dataset = "cifar10"
    training_counterpart = "cifar10-subset"
    test_column = "cifar10_test"
    valid_column = "cifar10_valid"
    has_hardware = True


@TASKS.register("nb201-cifar100")
class NB201Cifar100(NB201Task):
    """CIFAR-100 (the table has test accuracy only)."""

    name = "nb201-cifar100"
    dataset = "cifar100"
    num_classes = 100
    test_column = "cifar100_test"


@TASKS.register("nb201-imagenet16")
class NB201ImageNet16(NB201Task):
    """ImageNet16-120: 16x16 images, 120 classes (the table has test accuracy only)."""

    name = "nb201-imagenet16"
    dataset = "imagenet16"
    num_classes = 120
    input_size = 16
    test_column = "imagenet16_test"
