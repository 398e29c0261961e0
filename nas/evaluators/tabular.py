"""Exact NAS-Bench-201 lookups: accuracy and hardware cost in microseconds, no training.

Metrics (fidelity "tabular"):

* ``test_accuracy``: the benchmark's 200-epoch test accuracy on the task's data set, as a
  fraction like every accuracy in the store (the table holds percentages: 91.38 is stored
  as 0.9138).
* ``val_accuracy``: on ``nb201-cifar10`` the benchmark's ``cifar10_valid``
  (train/valid split). The table has **no** validation accuracy for CIFAR-100
  or ImageNet16-120, so there ``val_accuracy`` is the test accuracy; the trial
  attr ``val_accuracy_source`` says which column was used, so nobody mistakes
  a selection on test accuracy for a clean one.
* ``params`` and ``flops`` (2 x multiply-adds of one image) of the network
  :class:`search_spaces.nb201.NB201Space` builds, in closed form.
* On ``nb201-cifar10`` only: the HW-NAS-Bench measurements (Li et al. 2021),
  e.g. ``edgegpu_latency`` (ms), ``edgegpu_energy`` (mJ), ``raspi4_latency``.
  They were measured on the CIFAR-10 network, so other tasks do not claim them.
"""

from __future__ import annotations

from typing import Any

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator
from nas.tasks.nb201 import HARDWARE_METRICS, NB201Task

__all__ = ["TabularEvaluator", "lookup"]


@EVALUATORS.register("tabular")
class TabularEvaluator(Evaluator):
    """Looks architectures of the ``nb201`` space up in the NAS-Bench-201 table."""

    name = "tabular"
    provides = ("val_accuracy", "test_accuracy", "params", "flops", *HARDWARE_METRICS)

    def setup(self) -> None:
        if self.space.name != "nb201":
            raise ConfigError(
                f"evaluator 'tabular' looks up the NAS-Bench-201 table and needs space 'nb201', "
                f"not '{self.space.name}'"
            )
        if not isinstance(self.task, NB201Task):
            raise ConfigError(
                f"evaluator 'tabular' needs a NAS-Bench-201 task (nb201-cifar10, nb201-cifar100, "
                f"nb201-imagenet16), not '{self.task.name}'"
            )
        if self.params:
            raise ConfigError(
                f"evaluator.params.{next(iter(self.params))}: the 'tabular' evaluator takes no "
                "parameters"
            )
        self.task.prepare(self.device)

    def evaluate(self, arch: Architecture, trial: Any = None) -> Evaluation:
        cache: dict[str, Evaluation] = self.__dict__.setdefault("_cache", {})
        if arch.key not in cache:
            if not cache:
                self.setup()
            cache[arch.key] = lookup(self.task, arch)
        return cache[arch.key]


def lookup(task: NB201Task, arch: Architecture) -> Evaluation:
    """The table's figures for ``arch`` on ``task`` (see the module docstring)."""
    from search_spaces.nb201 import arch_to_string, flop_count, param_count

    table = task.table
    text = arch_to_string(arch)
    row = table.row(text)
    test = _fraction(table.columns[task.test_column][row])
    if task.valid_column is not None:
        val, source = _fraction(table.columns[task.valid_column][row]), task.valid_column
    else:
        val, source = test, f"{task.test_column} (the table has no validation accuracy)"
    metrics = {
        "val_accuracy": val,
        "test_accuracy": test,
        "params": float(param_count(arch, task.num_classes)),
        "flops": float(flop_count(arch, task.num_classes, task.input_size)),
    }
    if task.has_hardware:
        metrics.update({m: float(table.columns[m][row]) for m in HARDWARE_METRICS})
    attrs = {
        "nb201_index": row,
        "nb201_arch": text,
        "dataset": task.dataset,
        "val_accuracy_source": source,
    }
    return Evaluation(metrics=metrics, fidelity="tabular", attrs=attrs)


def _fraction(percent: float) -> float:
    """A table percentage as a fraction, without binary noise (91.38 -> 0.9138, not 0.91379...)."""
    return round(float(percent) / 100.0, 8)
