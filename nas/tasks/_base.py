"""The task contract: a data set, a loss and a metric.

The training loop in :mod:`nas.train` is generic: it asks the task for the
batches of one epoch, the loss of a batch and the metrics of a split. Every
batch is a :class:`search_spaces.Batch` (``model(*batch.inputs)`` gives
logits). Graph tasks are full-batch (one batch, the whole graph, with split
masks); image and sequence tasks yield minibatches.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import DataError
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

    from nas.tasks._inputs import RawInputs

__all__ = ["Task", "default_data_dir", "require_file"]


def default_data_dir() -> Path:
    """``$NAS_DATA_DIR``, else ``./data``, else ``../shared/data`` (the repo layout)."""
    env = os.environ.get("NAS_DATA_DIR")
    if env:
        return Path(env)
    for candidate in (Path("data"), Path("../shared/data")):
        if candidate.is_dir():
            return candidate
    return Path("data")


def require_file(path: Path, task: str) -> Path:
    """Return ``path`` or raise a :class:`DataError` that says how to point at the data."""
    if not path.is_file():
        raise DataError(
            f"task '{task}': data file not found: {path} "
            "(set --data-dir, the study's task.data_dir or NAS_DATA_DIR)"
        )
    return path


class Task(ABC):
    """Base of every task; a subclass is one file and ``@TASKS.register``.

    The constructor only stores arguments; :meth:`prepare` loads the data
    (once per worker process) onto ``device``.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    #: the main metric's name in reports, and whether higher is better
    metric: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    #: the registered task that holds trainable data for this one (a lookup table's
    #: data set), or None when this task trains itself
    training_counterpart: ClassVar[str | None] = None

    def __init__(self, data_dir: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.seed = seed
        self.params = params
        self.device: torch.device | str = "cpu"
        #: set by :meth:`prepare`; :attr:`spec` reads it
        self._spec: TaskSpec | None = None

    @abstractmethod
    def prepare(self, device: torch.device | str = "cpu") -> TaskSpec:
        """Load (idempotently) and move data to ``device``; return the spec models need."""

    @property
    def spec(self) -> TaskSpec:
        """Input/output dimensions; available after :meth:`prepare`."""
        if self._spec is None:
            raise RuntimeError(f"task '{self.name}': call prepare() first")
        return self._spec

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterable[Batch]:
        """The batches of one training epoch (seeded by ``epoch``), on the task's device."""

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Training loss of one batch: cross-entropy over the batch's selected outputs."""
        import torch.nn.functional as F

        selected_logits, targets = batch.selected(logits)
        return F.cross_entropy(selected_logits, targets)

    @abstractmethod
    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        """``{"accuracy"|"loss"|…: value}`` of ``model`` on ``split`` ("val" or "test").

        Keys are plain metric names; the evaluator prefixes them with the split
        (``val_accuracy``, ``test_accuracy``).
        """

    def evaluate_splits(
        self, model: torch.nn.Module, splits: Iterable[str]
    ) -> dict[str, dict[str, float]]:
        """Metrics of several splits; full-batch tasks override it to share one forward pass."""
        return {split: self.evaluate(model, split) for split in splits}

    @abstractmethod
    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        """One real, seeded batch (for proxies, latency and export parity checks)."""

    def raw_inputs(self) -> RawInputs:
        """The raw data a user has and the module that turns it into model inputs.

        ``nas export`` puts ``raw_inputs().transform`` in front of the network
        (traced into TorchScript/ONNX) so an exported model takes what a user
        has: un-normalised features, uint8 images, text. The default is for a
        task without preprocessing: ``example_batch`` as it is, any leading
        dimension may vary. Call after :meth:`prepare`.
        """
        from nas.tasks._inputs import PassThrough, RawInputs, fewer_rows

        count = len(self.example_batch(batch_size=2, seed=0).inputs)
        names = tuple(f"input_{i}" for i in range(count))

        def split(name: str) -> Batch:
            raise NotImplementedError(f"task '{self.name}' does not describe its raw {name} split")

        return RawInputs(
            names=names,
            dynamic_axes={**{n: {0: "batch"} for n in names}, "logits": {0: "batch"}},
            transform=PassThrough(),
            example=lambda batch_size, seed: self.example_batch(batch_size=batch_size, seed=seed),
            smaller=fewer_rows,
            split=split,
            recipe="the inputs are fed as they are (no preprocessing)",
        )
