"""Where an exported model's weights come from, and a sentence that says so.

An export must ship the model that was scored, or say plainly that it does not:

* ``train`` trials: the checkpoint the ``train`` evaluator saved
  (``weights_path``). When the file is not on this machine, the model is
  re-trained with the trial's seed and the study's training settings; seeded
  CPU runs are reproducible, so this is the same model.
* ``supernet`` trials: ``extract(arch)`` from the study's trained supernet,
  after BN recalibration (weight sharing as in OFA, Cai et al. 2020).
* ``tabular`` / ``proxy`` trials were never trained: the weights are a seeded
  random initialisation unless ``--finetune-epochs`` trains them from scratch.

``--finetune-epochs E`` then trains E more epochs on the (data) task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import CheckpointError, ExportError, first_line

if TYPE_CHECKING:
    import torch

    from nas.architecture import Architecture
    from nas.config import StudyConfig
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

    config: StudyConfig
    number: int
    fidelity: str
    attrs: dict[str, Any]
    arch: Architecture
    space: SearchSpace
    spec: TaskSpec
    #: the task that can train and evaluate (the study's, or a data task for tabular studies)
    data_task: Task | None
    seed: int
    #: the study's storage URL (where ``nas train-supernet`` records checkpoints)
    storage: str | None = None


@dataclass
class Weights:
    """A model with its weights and an honest account of them."""

    model: torch.nn.Module
    source: str
    description: str
    #: metrics measured during export (re-training, fine-tuning), by name
    measured: dict[str, float] = field(default_factory=dict)


def resolve_weights(trial: TrialModel, finetune_epochs: int = 0) -> Weights:
    """The trial's model with the right weights (see the module docstring)."""
    if trial.fidelity == "supernet":
        try:
            weights = _supernet_weights(trial)
        except _SupernetMissing:
            if not finetune_epochs:
                raise
            # No supernet here: the architecture is all we can ship; train it standalone.
            log.warning("trial %d: supernet checkpoint missing; training from scratch", trial.number)
            return _train_more(trial, _random_init(trial, finetune_epochs), finetune_epochs,
                               from_scratch=True)
    elif trial.attrs.get("weights_path") or trial.fidelity == "train":
        weights = _trained_weights(trial)
    else:
        weights = _random_init(trial, finetune_epochs)
        if finetune_epochs:
            return _train_more(trial, weights, finetune_epochs, from_scratch=True)
        return weights
    if finetune_epochs:
        return _train_more(trial, weights, finetune_epochs, from_scratch=False)
    return weights


def _trained_weights(trial: TrialModel) -> Weights:
    import torch

    path = trial.attrs.get("weights_path")
    model = trial.space.build(trial.arch, trial.spec)
    epochs = trial.attrs.get("epochs")
    if path and Path(path).is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - pickle/zip errors of a damaged file
            raise CheckpointError(f"checkpoint {path} is corrupt: {first_line(exc, 300)}") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        _load_strict(model, state, str(path))
        return Weights(
            model, "trained",
            f"the weights the `train` evaluator saved for this trial ({path}; "
            f"{epochs} epochs, seed {trial.seed}, best validation epoch "
            f"{trial.attrs.get('best_epoch', '?')})",
        )
    # Another machine trained it: re-train with the same seed and settings.
    if trial.data_task is None:
        raise ExportError(f"trial {trial.number}: checkpoint {path} is missing and the task cannot train")
    from nas.train import seed_everything, train_model

    settings = _study_train_settings(trial)
    log.info("trial %d: checkpoint %s missing; re-training with seed %d", trial.number, path, trial.seed)
    seed_everything(trial.seed)
    model = trial.space.build(trial.arch, trial.spec)
    result = train_model(model, trial.data_task, settings, seed=trial.seed)
    measured = {f"val_{k}": float(v) for k, v in result.val.items()}
    measured.update({f"test_{k}": float(v) for k, v in result.test.items()})
    return Weights(
        model, "retrained",
        f"re-trained at export with the trial's seed {trial.seed} and the study's training "
        f"settings ({result.epochs_run} epochs, best epoch {result.best_epoch}), because the "
        f"checkpoint {path or '(none recorded)'} is not on this machine; seeded CPU runs "
        "reproduce the scored model",
        measured,
    )


def _supernet_weights(trial: TrialModel) -> Weights:
    """``extract(arch)`` from the supernet that scored the trial, calibrated as it was scored.

    Goes through the ``supernet`` evaluator's public ``load``/``score``: the
    same checkpoint (the trial's ``checkpoint`` attr, else the newest one
    ``nas train-supernet`` recorded for the space and task) and the same BN
    recalibration batches, so the validation figures measured here are the
    trial's own, and ``extract`` copies the recalibrated statistics.
    """
    from nas.evaluators import EVALUATORS
    from nas.registry import UnknownNameError

    if trial.data_task is None:
        raise ExportError(f"trial {trial.number}: BN recalibration needs a task with training data")
    try:
        evaluator_cls = EVALUATORS.get("supernet")
    except UnknownNameError:
        raise ExportError(
            f"trial {trial.number} was scored with a supernet, but this installation has no "
            "'supernet' evaluator; export it with --finetune-epochs E to train it standalone"
        ) from None
    from nas.supernet.from_study import find_recorded_checkpoint

    recorded = Path(str(trial.attrs["checkpoint"])) if trial.attrs.get("checkpoint") else None
    path = recorded
    if path is None or not path.is_file():
        # A path recorded relative to the search's working directory: nas_supernets holds
        # the absolute one (accepted only if it is the same file name, i.e. the same epoch).
        found = find_recorded_checkpoint(trial.storage, trial.space.name, trial.config.task.name)
        if found is not None and (recorded is None or found.name == recorded.name):
            path = found
    if path is None or not path.is_file():
        raise _SupernetMissing(
            f"trial {trial.number} was scored with a supernet, but its checkpoint "
            f"{path or '(none recorded for this space and task)'} is not on this machine; "
            "copy it here, or pass --finetune-epochs E to train the architecture from scratch"
        )
    config = trial.config
    params = dict(config.evaluator.params) if config.evaluator.name == "supernet" else {}
    params = {k: v for k, v in params.items() if k in ("bn_batches",)}
    if "bn_batches" in trial.attrs:
        params["bn_batches"] = int(trial.attrs["bn_batches"])
    evaluator = evaluator_cls(trial.space, trial.data_task, params, device="cpu", seed=config.seed)
    supernet = evaluator.load(path)
    measured = evaluator.score(supernet, trial.arch)  # recalibrates BN in the shared weights
    model = supernet.extract(trial.arch).cpu()
    return Weights(
        model, "supernet",
        f"inherited from the trained `{trial.space.name}` supernet ({path}) via extract(arch), "
        f"after BN recalibration on {params.get('bn_batches', 'the default number of')} training "
        "batch(es) as in the search; not trained standalone",
        measured,
    )


def _random_init(trial: TrialModel, finetune_epochs: int) -> Weights:
    import torch

    torch.manual_seed(trial.seed)
    model = trial.space.build(trial.arch, trial.spec)
    if finetune_epochs:
        return Weights(model, "random-init", "")
    return Weights(
        model, "random-init",
        f"**untrained**: a seeded random initialisation (seed {trial.seed}). This trial was "
        f"scored by the `{trial.fidelity}` fidelity without training a model; re-export with "
        "`--finetune-epochs E` to train it from scratch",
    )


def _train_more(trial: TrialModel, weights: Weights, epochs: int, *, from_scratch: bool) -> Weights:
    from dataclasses import replace

    from nas.train import train_model

    if trial.data_task is None:
        raise ExportError(
            f"--finetune-epochs: task '{trial.config.task.name}' has no training data; "
            "pass --data-task with a task that has (e.g. cifar10-subset)"
        )
    settings = replace(_study_train_settings(trial), epochs=epochs, patience=epochs + 1)
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


def _study_train_settings(trial: TrialModel) -> Any:
    """The study's training settings: the ``train`` evaluator's, else its defaults."""
    from nas.evaluators import EVALUATORS
    from nas.train import TrainSettings

    config = trial.config
    params = dict(config.evaluator.params) if config.evaluator.name == "train" else {}
    evaluator_cls = EVALUATORS.get("train")
    evaluator = evaluator_cls(trial.space, trial.data_task, params, device="cpu", seed=config.seed)
    settings = evaluator.settings(trial.arch) if hasattr(evaluator, "settings") else TrainSettings()
    return settings


class _SupernetMissing(ExportError):
    """The supernet checkpoint that scored a trial is not on this machine."""


def _load_strict(model: torch.nn.Module, state: Any, where: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {where} does not fit the architecture: {first_line(exc, 300)}"
        ) from None
