"""Where an exported model's weights come from, and a sentence that says so.

An export must ship the model that was scored, or refuse. The study's
evaluator knows how it scored a trial and rebuilds those weights
(:meth:`nas.evaluators.Evaluator.weights_of`): the ``train`` evaluator's saved
artifact, the ``supernet`` evaluator's ``extract(arch)`` after the same BN
recalibration (weight sharing as in OFA, Cai et al. 2020), a ladder's last
rung. A fidelity that trained nothing (a table lookup, a zero-cost proxy)
has no weights: the export refuses unless ``--finetune-epochs E`` trains the
architecture from scratch, or ``--untrained`` asks for the random
initialisation on purpose (and the card says so in bold).

``--finetune-epochs E`` on trained weights trains E more epochs on the (data) task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nas.errors import CheckpointError, ExportError
from nas.evaluators._base import FetchArtifact, Weights

if TYPE_CHECKING:
    from nas.architecture import Architecture
    from nas.evaluators import Evaluator
    from nas.tasks import Task
    from search_spaces import SearchSpace, TaskSpec

__all__ = ["Weights", "TrialModel", "resolve_weights", "SOURCES"]

log = logging.getLogger(__name__)

#: values of ``nas_exports.weights_source``
SOURCES = (
    "trained", "retrained", "supernet", "random-init", "scratch", "trained+finetuned",
    "supernet+finetuned",
)


@dataclass(frozen=True)
class TrialModel:
    """What is needed to rebuild one trial's model."""

    trial: Any  # optuna.trial.FrozenTrial
    arch: Architecture
    space: SearchSpace
    spec: TaskSpec
    #: the study's evaluator, built on the data task (None: no task can train)
    evaluator: Evaluator | None
    #: the task that can train and evaluate (the study's, or its training counterpart)
    data_task: Task | None
    seed: int
    fetch: FetchArtifact

    @property
    def number(self) -> int:
        return int(self.trial.number)

    @property
    def fidelity(self) -> str:
        return str(self.trial.user_attrs.get("fidelity", "") or "unknown")


def resolve_weights(trial: TrialModel, finetune_epochs: int = 0, untrained: bool = False) -> Weights:
    """The trial's model with the right weights (see the module docstring)."""
    weights = None
    if trial.evaluator is not None:
        try:
            weights = trial.evaluator.weights_of(trial.trial, trial.arch, trial.fetch)
        except CheckpointError as exc:
            # A damaged file is never papered over; a missing one may be, on request.
            if not finetune_epochs or "corrupt" in str(exc):
                raise
            log.warning("%s; training from scratch for %d epoch(s)", exc, finetune_epochs)
            return _train_more(trial, _random_init(trial), finetune_epochs, from_scratch=True)
    if weights is None:
        if finetune_epochs:
            return _train_more(trial, _random_init(trial), finetune_epochs, from_scratch=True)
        if not untrained:
            raise ExportError(
                f"trial {trial.number} was scored by the `{trial.fidelity}` fidelity and has no "
                "trained weights; pass --finetune-epochs E to train it, or --untrained to export "
                "its random initialisation"
            )
        weights = _random_init(trial)
        weights.description = (
            f"**untrained**: a seeded random initialisation (seed {trial.seed}), exported with "
            f"--untrained. This trial was scored by the `{trial.fidelity}` fidelity without "
            "training a model; re-export with `--finetune-epochs E` to train it from scratch")
        return weights
    if finetune_epochs:
        return _train_more(trial, weights, finetune_epochs, from_scratch=False)
    return weights


def _random_init(trial: TrialModel) -> Weights:
    import torch

    torch.manual_seed(trial.seed)
    return Weights(trial.space.build(trial.arch, trial.spec), "random-init", "")


def _train_more(trial: TrialModel, weights: Weights, epochs: int, *, from_scratch: bool) -> Weights:
    from nas.train import TrainSettings, train_model

    if trial.data_task is None:
        raise ExportError(
            f"--finetune-epochs: trial {trial.number}'s task has no training data; "
            "pass --data-task with a task that has (e.g. cifar10-subset)"
        )
    settings_of = getattr(trial.evaluator, "settings", None)
    settings = settings_of(trial.arch) if callable(settings_of) else TrainSettings()
    settings = replace(settings, epochs=epochs, patience=epochs + 1)
    result = train_model(weights.model, trial.data_task, settings, seed=trial.seed)
    measured = {f"val_{k}": float(v) for k, v in result.val.items()}
    measured.update({f"test_{k}": float(v) for k, v in result.test.items()})
    task = trial.data_task.name
    if from_scratch:
        return Weights(
            weights.model, "scratch",
            f"trained from scratch at export for {epochs} epoch(s) on `{task}` (seed {trial.seed}, "
            f"best validation epoch {result.best_epoch}); the study scored this architecture by "
            f"the `{trial.fidelity}` fidelity, not these weights",
            measured,
        )
    return Weights(
        weights.model, weights.source.replace("retrained", "trained") + "+finetuned",
        f"{weights.description}; then fine-tuned at export for {epochs} epoch(s) on `{task}` "
        f"(best validation epoch {result.best_epoch})",
        {**weights.measured, **measured},
    )
