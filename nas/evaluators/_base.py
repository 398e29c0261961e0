"""The evaluator contract: one class per fidelity (tabular, proxy, supernet, train).

An evaluator turns an architecture into metrics. The search loop picks the
study's objectives out of ``Evaluation.metrics`` by name and stores the rest in
the trial's user attrs, so nothing measured is lost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from nas.architecture import Architecture
from nas.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    import optuna
    import torch

    from nas.tasks import Task
    from search_spaces import SearchSpace

__all__ = ["Evaluation", "Evaluator", "Weights", "FetchArtifact"]

#: ``fetch(record, what) -> local file``: an artifact record (``{"id", "sha256"}``) of the
#: trial's study, downloaded and its sha256 checked; ``what`` names the owner in errors
FetchArtifact = Callable[[Mapping[str, Any], str], "Path"]


@dataclass(frozen=True)
class Evaluation:
    """What an evaluator measured.

    ``metrics`` are numbers usable as objectives (``val_accuracy``, ``params``,
    ``flops``, ``latency_ms`` …); ``attrs`` is anything JSON-safe worth keeping
    (test accuracy, timings, epochs); ``fidelity`` says how the main figure was
    obtained ("tabular", "proxy", "supernet", "train").
    """

    metrics: Mapping[str, float]
    fidelity: str
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Weights:
    """A model with its weights and an honest account of them (for ``nas export``).

    ``source`` is one word (``trained``, ``retrained``, ``supernet`` …) stored
    with the export; ``description`` the card's sentence; ``measured`` the
    figures measured while reproducing them, by name.
    """

    model: torch.nn.Module
    source: str
    description: str
    measured: dict[str, float] = field(default_factory=dict)


class Evaluator(ABC):
    """Base of every evaluator; a subclass is one file and ``@EVALUATORS.register``."""

    name: ClassVar[str] = ""
    #: metric names this evaluator can produce (for config validation)
    provides: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        space: SearchSpace,
        task: Task,
        params: Mapping[str, Any] | None = None,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        self.space = space
        self.task = task
        self.params = dict(params or {})
        self.device = device
        self.seed = seed

    def setup(self) -> None:
        """Per-worker, once: load data, checkpoints, tables."""

    def reject_unknown_params(self, allowed: Iterable[str]) -> None:
        """Raise ``ConfigError`` naming the first study-file parameter not in ``allowed``."""
        allowed = list(allowed)
        for key in self.params:
            if key not in allowed:
                raise ConfigError(f"evaluator.params.{key}: unknown parameter for "
                                  f"'{self.name}'; allowed: {', '.join(allowed)}")

    @abstractmethod
    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        """Measure ``arch``; ``trial`` allows pruning and intermediate reports."""

    def weights_of(self, trial: optuna.trial.FrozenTrial, arch: Architecture,
                   fetch: FetchArtifact) -> Weights | None:
        """The weights this evaluator scored ``trial`` with, rebuilt; None if it trained none.

        A fidelity that trains nothing (a table lookup, a zero-cost proxy)
        returns None, and ``nas export`` refuses to ship random weights unless
        asked. ``fetch`` reads the trial's artifacts (hash-checked).
        """
        return None
