"""The ``train`` evaluator: train the standalone model, the highest fidelity there is.

Trains with early stopping on validation (:mod:`nas.train`), then measures
size and speed on one real batch (:func:`nas.metrics.hardware_metrics`).
Metrics are named by split: ``val_accuracy``, ``val_loss`` (and ``val_bpc``
for language models), ``test_*`` (kept as attrs, never an objective you should
select on), plus ``params``, ``flops``, ``latency_ms``, ``train_seconds``.
The trained weights go to ``checkpoints/<study>/trial-<n>.pt`` (written to a
temp file, then renamed) so ``nas export`` ships the model that was scored.

Study-file parameters (``[evaluator.params]``): ``epochs`` (200), ``patience``
(30), ``lr`` and ``weight_decay`` (used when the space has no such choice),
``optimizer`` (adam), ``save_weights`` (true), ``checkpoint_dir``
("checkpoints"), ``latency_repeats`` (:data:`nas.metrics.LATENCY_REPEATS`, 10), ``eval_every`` (1), ``select``
("metric": keep the epoch with the best validation metric, or "loss": the
lowest validation loss; see :mod:`nas.train`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator
from nas.metrics import LATENCY_REPEATS

if TYPE_CHECKING:
    import optuna

__all__ = ["TrainEvaluator", "TRAIN_METRICS"]

log = logging.getLogger(__name__)

_SPLIT_METRICS = ("accuracy", "loss", "bpc")
TRAIN_METRICS: tuple[str, ...] = (
    *(f"{split}_{m}" for split in ("val", "test") for m in _SPLIT_METRICS),
    "params", "flops", "latency_ms", "latency_p90_ms", "peak_memory_mb", "predicted_latency",
    "train_seconds",
)
_PARAMS = {
    "epochs": int, "patience": int, "lr": float, "weight_decay": float, "optimizer": str,
    "save_weights": bool, "checkpoint_dir": str, "latency_repeats": int, "eval_every": int,
    "grad_clip": float, "select": str,
}


@EVALUATORS.register("train")
class TrainEvaluator(Evaluator):
    """Train for up to ``epochs`` with early stopping; report validation metrics."""

    name: ClassVar[str] = "train"
    provides: ClassVar[tuple[str, ...]] = TRAIN_METRICS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reject_unknown_params(_PARAMS)
        for key, value in self.params.items():
            kind = _PARAMS[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"evaluator.params.{key}: must be {kind.__name__}, got {value!r}")
            if kind in (int, float) and value <= 0:
                raise ConfigError(f"evaluator.params.{key}: must be positive, got {value!r}")
        from nas.train import SELECT_RULES

        if self.params.get("select", "metric") not in SELECT_RULES:
            raise ConfigError(f"evaluator.params.select: {self.params['select']!r} is not allowed; "
                              f"allowed: {', '.join(SELECT_RULES)}")

    def settings(self, arch: Architecture) -> Any:
        """Training settings: the architecture's lr/weight_decay choices win over params."""
        from nas.train import TrainSettings

        p = self.params
        return TrainSettings(
            epochs=int(p.get("epochs", 200)),
            patience=int(p.get("patience", 30)),
            lr=float(arch.get("lr", p.get("lr", 0.01))),
            weight_decay=float(arch.get("weight_decay", p.get("weight_decay", 5e-4))),
            optimizer=str(p.get("optimizer", "adam")),
            eval_every=int(p.get("eval_every", 1)),
            grad_clip=p.get("grad_clip"),
            select=str(p.get("select", "metric")),
        )

    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        from nas.metrics import hardware_metrics
        from nas.train import seed_everything, train_model

        seed = self.seed if trial is None else self.seed + trial.number
        seed_everything(seed)
        spec = self.task.prepare(self.device)
        model = self.space.build(arch, spec)
        result = train_model(model, self.task, self.settings(arch), seed=seed, trial=trial,
                             device=self.device)
        metrics: dict[str, float] = {}
        for split, values in (("val", result.val), ("test", result.test)):
            for key, value in values.items():
                metrics[f"{split}_{key}"] = float(value)
        batch = self.task.example_batch(seed=seed).to(self.device)
        metrics.update(hardware_metrics(
            model, batch, repeats=int(self.params.get("latency_repeats", LATENCY_REPEATS)),
            space=self.space, arch=arch, spec=spec,
        ))
        metrics["train_seconds"] = result.seconds
        attrs: dict[str, Any] = {
            "seed": seed,
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "test_accuracy": metrics.get("test_accuracy"),
        }
        if trial is not None and self.params.get("save_weights", True):
            attrs["weights_path"] = self._save_weights(trial, result.state_dict)
        return Evaluation(metrics=metrics, fidelity="train", attrs=attrs)

    def _save_weights(self, trial: optuna.Trial, state_dict: dict[str, Any]) -> str:
        import torch

        folder = Path(str(self.params.get("checkpoint_dir", "checkpoints"))) / trial.study.study_name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"trial-{trial.number}.pt"
        # Temp file + rename: a killed worker never leaves a half-written checkpoint.
        handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(handle)
        try:
            torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(path.resolve())
