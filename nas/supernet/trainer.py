"""Supernet training steps: uniform single-path (SPOS) or the sandwich rule with in-place distillation.

* ``uniform`` (SPOS, Guo et al. 2020): one architecture drawn uniformly per
  step, trained on the labels.
* ``sandwich`` (BigNAS, Yu et al. 2020; AttentiveNAS, Wang et al. 2021): per
  step the largest, the smallest and ``n_random`` random architectures; the
  largest learns from the labels and, with ``distill``, every other one
  learns from the largest's soft predictions of the same batch (in-place
  distillation, Yu & Huang 2019), so small subnets track the big one.
* ``fair`` (FairNAS strict fairness, Chu et al. 2021): per step one
  architecture per weight set of the supernet (:meth:`Supernet.fair_archs`;
  for ``gnn``: each conv type and the MLP), trained on the labels, so no conv
  type's weights get more updates than another's. The sandwich rule's largest
  and smallest are one conv type each, which then trains twice as often.

Gradients of all subnets of a step are summed before one optimiser step.
Everything random (architectures, dropout) comes from a seeded numpy
generator and torch's generator, both part of :meth:`SupernetTrainer.state_dict`,
so a resumed run continues exactly where the checkpoint left off.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from nas.architecture import Architecture
from nas.errors import ConfigError
from search_spaces import Batch
from supernets._base import Supernet
from supernets.sampling import random_arch

__all__ = ["SupernetSettings", "SupernetTrainer", "SAMPLING_RULES"]

SAMPLING_RULES = ("uniform", "sandwich", "fair")
_OPTIMIZERS = ("sgd", "adam", "adamw")


class _TaskLike(Protocol):
    def train_batches(self, epoch: int) -> Iterable[Batch]: ...
    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor: ...


@dataclass(frozen=True)
class SupernetSettings:
    """The ``[supernet]`` table of a study file."""

    epochs: int = 50
    sampling: str = "sandwich"
    n_random: int = 2
    distill: bool = True
    lr: float = 0.01
    weight_decay: float = 5e-4
    optimizer: str = "adam"
    momentum: float = 0.9
    grad_clip: float = 5.0
    batch_size: int = 0  # 0: the task's own batch size
    max_batches: int = 0  # 0: every batch of an epoch
    checkpoint_dir: str = "checkpoints/supernets"
    keep_last: int = 2  # older per-epoch checkpoints are deleted (0: keep every one)
    checkpoint: str = ""  # a path to load instead of training (the evaluator's default lookup)
    #: few-shot NAS (Zhao et al. 2021): one supernet per combination of these choices' values,
    #: each trained on its part of the space; an architecture is scored by its own part's
    split_on: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> SupernetSettings:
        """Validate a ``[supernet]`` table; errors name ``supernet.<key>``."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"supernet.{key}: unknown key; allowed: {', '.join(known)}")
            default = known[key].default
            if key == "split_on":
                if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"supernet.split_on: must be a list of choice names, e.g. "
                                      f"[\"batch_norm\"], got {value!r}")
                values[key] = tuple(value)
                continue
            kind = type(default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"supernet.{key}: must be {kind.__name__}, got {value!r}")
            values[key] = value
        settings = cls(**values)
        if settings.sampling not in SAMPLING_RULES:
            raise ConfigError(f"supernet.sampling: '{settings.sampling}' is not allowed; "
                              f"allowed: {', '.join(SAMPLING_RULES)}")
        if settings.optimizer not in _OPTIMIZERS:
            raise ConfigError(f"supernet.optimizer: '{settings.optimizer}' is not allowed; "
                              f"allowed: {', '.join(_OPTIMIZERS)}")
        for key in ("epochs", "lr"):
            if getattr(settings, key) <= 0:
                raise ConfigError(f"supernet.{key}: must be positive")
        for key in ("n_random", "batch_size", "max_batches", "weight_decay", "grad_clip",
                    "keep_last"):
            if getattr(settings, key) < 0:
                raise ConfigError(f"supernet.{key}: must not be negative")
        return settings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SupernetTrainer:
    """Trains one supernet on one task; ``run_epoch`` then ``state_dict`` for a checkpoint."""

    def __init__(self, supernet: Supernet, task: _TaskLike, settings: SupernetSettings,
                 seed: int = 0) -> None:
        self.supernet = supernet
        self.task = task
        self.settings = settings
        self.rng = np.random.default_rng(seed)
        self.optimizer = _optimizer(supernet, settings)
        # Listed once: walking supernet.parameters() every step cost ~11% of an NB201 step.
        self._parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.epoch = 0
        self.losses: list[float] = []
        torch.manual_seed(seed)
        self._largest = supernet.space.validate(supernet.space.largest())
        self._smallest = supernet.space.validate(supernet.space.smallest())
        if settings.sampling == "fair":
            supernet.fair_archs(np.random.default_rng(0))  # a supernet without weight sets fails now

    def run_epoch(self, on_step: Any = None) -> float:
        """Train one epoch (cosine learning rate by epoch); returns the mean loss."""
        self.epoch += 1
        lr = self.settings.lr * 0.5 * (1 + math.cos(math.pi * (self.epoch - 1) / self.settings.epochs))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.supernet.train()
        total, count = 0.0, 0
        for batch in self.task.train_batches(self.epoch):
            total += self.step(batch)
            count += 1
            if on_step is not None:
                on_step(total / count)
            if self.settings.max_batches and count >= self.settings.max_batches:
                break
        mean = total / max(count, 1)
        self.losses.append(mean)
        return mean

    def step(self, batch: Batch) -> float:
        """One optimiser step over the architectures the sampling rule draws; returns the loss."""
        self.optimizer.zero_grad(set_to_none=True)
        teacher: torch.Tensor | None = None
        loss_sum = 0.0
        for position, arch in enumerate(self.draw()):
            with self.supernet.activated(arch):
                logits = self.supernet(*batch.inputs)
            if teacher is None or not self.settings.distill:
                loss = self.task.loss(logits, batch)
            else:
                loss = distillation_loss(logits, teacher, batch)
            loss.backward()
            loss_sum += float(loss.detach())
            if position == 0 and self.settings.sampling == "sandwich" and self.settings.distill:
                teacher = logits.detach()
        if self.settings.grad_clip:
            # Only the tensors this step's subnets touched: the others have no gradient.
            touched = [p for p in self._parameters if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(touched, self.settings.grad_clip)
        self.optimizer.step()
        return loss_sum

    def draw(self) -> list[Architecture]:
        """This step's architectures: largest first under the sandwich rule."""
        space = self.supernet.space
        if self.settings.sampling == "uniform":
            return [random_arch(space, self.rng)]
        if self.settings.sampling == "fair":
            return self.supernet.fair_archs(self.rng)
        return [self._largest, self._smallest,
                *(random_arch(space, self.rng) for _ in range(self.settings.n_random))]

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (loadable with ``torch.load(weights_only=True)``)."""
        state = {
            "epoch": self.epoch,
            "losses": list(self.losses),
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler_state": json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = json.loads(state["sampler_state"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.epoch = int(state["epoch"])
        self.losses = [float(x) for x in state["losses"]]


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, batch: Batch) -> torch.Tensor:
    """KL divergence from the teacher's to the student's predictions on the batch's outputs."""
    student_logits, _ = batch.selected(student)
    teacher_logits, _ = batch.selected(teacher)
    return F.kl_div(F.log_softmax(student_logits, dim=-1), F.softmax(teacher_logits, dim=-1),
                    reduction="batchmean")


def _optimizer(supernet: Supernet, settings: SupernetSettings) -> torch.optim.Optimizer:
    params = list(supernet.parameters())
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, nesterov=True,
                               weight_decay=settings.weight_decay)
    cls = torch.optim.Adam if settings.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=settings.lr, weight_decay=settings.weight_decay)
