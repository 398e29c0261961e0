"""The training loop every family shares: train, early-stop on validation, keep the best weights.

Generic over tasks (:class:`nas.tasks.Task` gives the batches, the loss and the
metrics) and models (``model(*batch.inputs)``). Seeded runs are reproducible
on CPU: the model is built and trained under ``torch.manual_seed(seed)``.
The best epoch is the one with the best validation metric (``select="metric"``)
or the lowest validation loss (``select="loss"``, the protocol of Shchur et
al. 2018 and PyG's citation benchmarks): on small validation sets (Cora's 500
nodes) the loss is the steadier guide, and the maximum of a noisy accuracy
curve over hundreds of epochs flatters models that merely fluctuate.
When an Optuna ``trial`` is given, the validation figure is reported every
epoch so a pruner (successive halving, Hyperband) can stop the run.

>>> result = train_model(model, task, TrainSettings(epochs=50), seed=0)  # doctest: +SKIP
>>> result.val["accuracy"], result.test["accuracy"]                    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    import torch

    from nas.tasks import Task

__all__ = ["TrainSettings", "TrainResult", "train_model", "seed_everything", "SELECT_RULES"]

#: how the best epoch is chosen: by the task's validation metric, or by the validation loss
SELECT_RULES = ("metric", "loss")


@dataclass(frozen=True)
class TrainSettings:
    """How long and how to train; ``patience`` epochs without improvement stop early."""

    epochs: int = 200
    patience: int = 30
    lr: float = 0.01
    weight_decay: float = 5e-4
    optimizer: str = "adam"
    eval_every: int = 1
    grad_clip: float | None = None
    select: str = "metric"


@dataclass
class TrainResult:
    """The best validation epoch's metrics and weights."""

    val: dict[str, float]
    test: dict[str, float]
    best_epoch: int
    epochs_run: int
    seconds: float
    state_dict: dict[str, Any] = field(repr=False)
    history: list[float] = field(default_factory=list, repr=False)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train_model(
    model: torch.nn.Module,
    task: Task,
    settings: TrainSettings,
    *,
    seed: int = 0,
    trial: optuna.Trial | None = None,
    device: str = "cpu",
) -> TrainResult:
    """Train ``model`` on ``task``; return the metrics and weights of the best validation epoch."""
    import torch

    if settings.select not in SELECT_RULES:
        raise ConfigError(f"evaluator.params.select: '{settings.select}' is not allowed; "
                          f"allowed: {', '.join(SELECT_RULES)}")
    seed_everything(seed)
    model.to(device)
    optimizer = _optimizer(model, settings)
    higher_is_better = task.higher_is_better
    metric = task.metric
    by_loss = settings.select == "loss"
    best_loss = float("inf")
    best_value = -float("inf") if higher_is_better else float("inf")
    best_state: dict[str, Any] = copy.deepcopy(model.state_dict())
    best_val: dict[str, float] = {}
    best_epoch = 0
    history: list[float] = []
    start = time.perf_counter()
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        for batch in task.train_batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = task.loss(model(*batch.inputs), batch)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimizer.step()
        if epoch % settings.eval_every and epoch != settings.epochs:
            continue
        val = task.evaluate_splits(model, ("val",))["val"]
        value = val[metric]
        history.append(value)
        if by_loss:
            improved = val["loss"] < best_loss
        else:
            improved = value > best_value if higher_is_better else value < best_value
        if improved:
            best_value, best_val, best_epoch = value, val, epoch
            best_loss = val.get("loss", best_loss)
            best_state = copy.deepcopy(model.state_dict())
        if trial is not None:
            _report(trial, value, epoch)
        if epoch - best_epoch >= settings.patience:
            break
    model.load_state_dict(best_state)
    test = task.evaluate_splits(model, ("test",))["test"]
    return TrainResult(
        val=best_val,
        test=test,
        best_epoch=best_epoch,
        epochs_run=epoch,
        seconds=time.perf_counter() - start,
        state_dict=best_state,
        history=history,
    )


def _optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    import torch

    # A model may split its parameters into groups with their own weight decay
    # (e.g. APPNP's decay on the feature encoder only): ``parameter_groups(weight_decay)``.
    groups = getattr(model, "parameter_groups", None)
    params: Any = ([p for p in model.parameters() if p.requires_grad] if groups is None
                   else groups(settings.weight_decay))
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=0.9, nesterov=True,
                               weight_decay=settings.weight_decay)
    raise ConfigError(
        f"evaluator.params.optimizer: '{settings.optimizer}' is not allowed; allowed: adam, adamw, sgd"
    )


def _report(trial: optuna.Trial, value: float, epoch: int) -> None:
    import optuna

    if len(trial.study.directions) > 1:
        return  # Optuna prunes single-objective studies only; reports would raise
    trial.report(value, epoch)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at epoch {epoch}")
