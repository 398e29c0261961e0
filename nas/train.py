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
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    import torch

    from nas.tasks import Task

#: evaluation lines (INFO): a 30-epoch CPU training is an hour that should not look hung
log = logging.getLogger(__name__)
#: between two such lines at least this long, except the first and the last evaluation
LOG_EVERY_S = 10.0

__all__ = ["TrainSettings", "TrainResult", "train_model", "seed_everything", "SELECT_RULES",
           "SCHEDULES", "DECAY_RULES", "SETTING_KINDS", "check_kinds", "lr_factor",
           "consistency_loss"]

#: how the best epoch is chosen: by the task's validation metric, or by the validation loss
SELECT_RULES = ("metric", "loss")
#: the learning-rate schedule over all ``epochs`` (per optimiser step): constant; cosine decay
#: to zero (after ``warmup``); one-cycle (Smith & Topin 2019, as torch's ``OneCycleLR``: from
#: lr/25 up to lr over ``warmup`` of the steps, 0.3 when unset, then cosine down to lr/1e4)
SCHEDULES = ("constant", "cosine", "onecycle")
#: which parameters weight decay applies to (``TrainSettings.decay``)
DECAY_RULES = ("all", "matrices")
#: the type of each :class:`TrainSettings` field a study file or a flag may set (``grad_clip``
#: is a number there; leaving it out is how to have none)
SETTING_KINDS: dict[str, type] = {
    "epochs": int, "patience": int, "lr": float, "weight_decay": float, "optimizer": str,
    "eval_every": int, "grad_clip": float, "select": str, "schedule": str, "warmup": float,
    "decay": str, "beta2": float, "consistency": int, "consistency_weight": float,
    "consistency_temperature": float,
}
#: settings that may be zero (every other number must be positive)
_MAY_BE_ZERO = ("warmup",)
#: one-cycle's warm-up share when ``warmup`` is 0, its start lr / peak and its end lr / peak
_ONECYCLE_WARMUP, _ONECYCLE_START, _ONECYCLE_END = 0.3, 1 / 25, 1e-4


def check_kinds(values: dict[str, Any], kinds: dict[str, type], where: str) -> None:
    """Raise :class:`ConfigError` naming the first of ``values`` of the wrong type or sign,
    as ``{where}{key}`` (``where``: ``"evaluator.params."`` or a flag's name): a bad value
    from a study file or a flag fails with one line before any training, not deep inside it.
    An int passes as a float; a bool passes only where a bool is asked for."""
    for key, value in values.items():
        kind = kinds[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            pass
        elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"{where}{key}: must be {kind.__name__}, got {value!r}")
        if kind in (int, float) and (value < 0 if key in _MAY_BE_ZERO else value <= 0):
            raise ConfigError(f"{where}{key}: must be positive, got {value!r}")


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
    schedule: str = "constant"
    #: the share of all steps spent warming the lr up linearly (0: none; one-cycle: 0.3)
    warmup: float = 0.0
    #: which parameters weight decay applies to: "all", or "matrices" (tensors of 2+ dims:
    #: no decay on biases and norm gains, as GPT-2/nanoGPT); a model's own groups win
    decay: str = "all"
    #: Adam's second-moment decay (nanoGPT's tiny-shakespeare recipe uses 0.99)
    beta2: float = 0.999
    #: stochastic forward passes per step (GRAND's consistency regularisation, Feng et al.
    #: 2020): with 2 or more, the loss is the mean task loss of the passes plus
    #: ``consistency_weight`` times :func:`consistency_loss` over every output row (on a
    #: graph, the unlabelled nodes too); the passes differ by the model's dropouts
    consistency: int = 1
    consistency_weight: float = 1.0
    #: the sharpening temperature of the passes' mean prediction (0 < T <= 1; 1: no sharpening)
    consistency_temperature: float = 0.5

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the ``evaluator.params`` key of a value no
        training can use; the evaluator calls it before any trial, ``train_model`` too."""
        for key, value, allowed in (("select", self.select, SELECT_RULES),
                                    ("schedule", self.schedule, SCHEDULES),
                                    ("decay", self.decay, DECAY_RULES)):
            if value not in allowed:
                raise ConfigError(f"evaluator.params.{key}: '{value}' is not allowed; "
                                  f"allowed: {', '.join(allowed)}")
        if self.beta2 >= 1.0:
            raise ConfigError(f"evaluator.params.beta2: must be below 1, got {self.beta2!r}")
        if self.warmup >= 1.0:
            raise ConfigError(f"evaluator.params.warmup: the share of steps warming up must be "
                              f"below 1, got {self.warmup!r}")
        if not 0.0 < self.consistency_temperature <= 1.0:
            raise ConfigError(f"evaluator.params.consistency_temperature: must be in (0, 1], "
                              f"got {self.consistency_temperature!r}")
        if self.consistency < 1:
            raise ConfigError(f"evaluator.params.consistency: the number of forward passes per "
                              f"step must be 1 or more, got {self.consistency!r}")


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


def lr_factor(schedule: str, progress: float, warmup: float = 0.0) -> float:
    """The multiplier of the peak lr at ``progress`` (0 at the first step, 1 after the last).

    >>> lr_factor("cosine", 0.5), lr_factor("onecycle", 0.0), lr_factor("constant", 0.9)
    (0.5, 0.04, 1.0)
    """
    import math

    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0 if progress >= warmup or not warmup else progress / warmup
    if schedule == "cosine":
        if warmup and progress < warmup:
            return progress / warmup
        rest = (progress - warmup) / (1.0 - warmup) if warmup < 1.0 else 1.0
        return 0.5 * (1.0 + math.cos(math.pi * rest))
    if schedule == "onecycle":
        rise = warmup or _ONECYCLE_WARMUP
        if progress < rise:
            return _ONECYCLE_START + (1.0 - _ONECYCLE_START) * progress / rise
        rest = (progress - rise) / (1.0 - rise)
        return _ONECYCLE_END + (1.0 - _ONECYCLE_END) * 0.5 * (1.0 + math.cos(math.pi * rest))
    raise ConfigError(f"evaluator.params.schedule: '{schedule}' is not allowed; "
                      f"allowed: {', '.join(SCHEDULES)}")


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

    settings.check()
    seed_everything(seed)
    model.to(device)
    optimizer = _optimizer(model, settings)
    peak_lrs = [group["lr"] for group in optimizer.param_groups]
    steps_per_epoch = 0  # counted on the first epoch; the schedule needs the total
    step = 0
    higher_is_better = task.higher_is_better
    metric = task.metric
    by_loss = settings.select == "loss"
    best_loss = float("inf")
    best_value = -float("inf") if higher_is_better else float("inf")
    best_state: dict[str, Any] = copy.deepcopy(model.state_dict())
    best_val: dict[str, float] = {}
    best_epoch = 0
    history: list[float] = []
    start = logged = time.perf_counter()
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        batches = task.train_batches(epoch)
        if not steps_per_epoch:
            batches = list(batches)
            steps_per_epoch = max(1, len(batches))
        total_steps = steps_per_epoch * settings.epochs
        for batch in batches:
            if settings.schedule != "constant" or settings.warmup:
                factor = lr_factor(settings.schedule, step / total_steps, settings.warmup)
                for group, peak in zip(optimizer.param_groups, peak_lrs):
                    group["lr"] = peak * factor
            step += 1
            optimizer.zero_grad(set_to_none=True)
            loss = _step_loss(model, task, batch, settings)
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
        stopping = epoch - best_epoch >= settings.patience
        now = time.perf_counter()
        if len(history) == 1 or stopping or epoch == settings.epochs or now - logged >= LOG_EVERY_S:
            logged = now
            log.info("epoch %d/%d: val %s %.4f (best %.4f at epoch %d), %.0f s", epoch,
                     settings.epochs, metric, value, best_value, best_epoch, now - start)
        if trial is not None:
            _report(trial, value, epoch)
        if stopping:
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


def _step_loss(model: torch.nn.Module, task: Task, batch: Any, settings: TrainSettings) -> torch.Tensor:
    """The loss of one step: the task's, or (``consistency`` ≥ 2) the mean over that many
    stochastic passes plus their consistency term."""
    if settings.consistency < 2:
        return task.loss(model(*batch.inputs), batch)
    outputs = [model(*batch.inputs) for _ in range(settings.consistency)]
    supervised = sum(task.loss(out, batch) for out in outputs) / len(outputs)
    return supervised + settings.consistency_weight * consistency_loss(
        outputs, settings.consistency_temperature)


def consistency_loss(outputs: list[torch.Tensor], temperature: float = 0.5) -> torch.Tensor:
    """GRAND's consistency term (Feng et al. 2020): the mean squared distance of each pass's
    class probabilities to their sharpened mean (a fixed target), per output row.

    Rows are every position of the last dimension's logits (nodes, images, tokens): the
    unlabelled ones are where the term teaches something the labels do not.

    >>> import torch
    >>> same = torch.tensor([[4.0, 0.0]])
    >>> float(consistency_loss([same, same], temperature=1.0))
    0.0
    """
    import torch

    probs = [torch.softmax(out.reshape(-1, out.size(-1)), dim=-1) for out in outputs]
    mean = torch.stack(probs).mean(dim=0)
    sharpened = mean.pow(1.0 / temperature)
    target = (sharpened / sharpened.sum(dim=-1, keepdim=True)).detach()
    return torch.stack([(p - target).pow(2).sum(dim=-1).mean() for p in probs]).mean()


def _optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    import torch

    # A model may split its parameters into groups with their own weight decay
    # (e.g. APPNP's decay on the feature encoder only): ``parameter_groups(weight_decay)``.
    groups = getattr(model, "parameter_groups", None)
    params: Any = ([p for p in model.parameters() if p.requires_grad] if groups is None
                   else groups(settings.weight_decay))
    if groups is None and settings.decay == "matrices":
        params = [{"params": [p for p in params if p.dim() >= 2]},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    betas = (0.9, settings.beta2)
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay,
                                betas=betas)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay,
                                 betas=betas)
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
