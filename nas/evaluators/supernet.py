"""The ``supernet`` evaluator: score an architecture with weights inherited from a trained supernet.

Per worker the checkpoint is loaded once; per architecture the subnet is
activated, its batch-norm statistics are re-estimated on ``bn_batches``
training batches (SPOS, Guo et al. 2020: without it, weight-sharing rankings
collapse) and it is evaluated on the validation split. No training happens,
so any sampler can search with it at a fraction of the ``train`` evaluator's
cost. Size and speed (``params``, ``flops``, ``latency_ms`` …) are measured on
``supernet.extract(arch)``, the standalone model with the inherited weights.

Which checkpoint (first match wins):

1. ``[evaluator.params] checkpoint = "path.pt"``;
2. the study file's ``[supernet] checkpoint``;
3. the newest checkpoint ``nas train-supernet`` wrote for this study file (same
   study name and training configuration) in ``[supernet] checkpoint_dir``.

A checkpoint of another space, task or other choice ranges is refused with a
:class:`~nas.errors.CheckpointError` naming the difference.

Study-file parameters (``[evaluator.params]``): ``checkpoint`` (""),
``bn_batches`` (10), ``hardware`` (true: measure params/FLOPs/latency),
``latency_repeats`` (:data:`nas.metrics.LATENCY_REPEATS`, 10).
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.architecture import Architecture
from nas.errors import CheckpointError, ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator
from nas.metrics import LATENCY_REPEATS

if TYPE_CHECKING:
    import optuna

    from supernets import Supernet

__all__ = ["SupernetEvaluator", "SUPERNET_METRICS"]

log = logging.getLogger(__name__)

SUPERNET_METRICS: tuple[str, ...] = (
    "val_accuracy", "val_loss", "val_bpc", "params", "flops", "latency_ms", "latency_p90_ms",
    "peak_memory_mb", "score_seconds",
)
_PARAMS: dict[str, type] = {"checkpoint": str, "bn_batches": int, "hardware": bool,
                            "latency_repeats": int}
#: the seeded "epoch" whose training batches recalibrate batch norm (same for every arch)
_CALIBRATION_EPOCH = 10_000


@EVALUATORS.register("supernet")
class SupernetEvaluator(Evaluator):
    """Inherit weights, recalibrate BN on ``bn_batches`` batches, evaluate on validation data."""

    name: ClassVar[str] = "supernet"
    provides: ClassVar[tuple[str, ...]] = SUPERNET_METRICS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reject_unknown_params(_PARAMS)
        for key, value in self.params.items():
            kind = _PARAMS[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"evaluator.params.{key}: must be {kind.__name__}, got {value!r}")
        if int(self.params.get("bn_batches", 10)) < 0:
            raise ConfigError("evaluator.params.bn_batches: must not be negative")
        if int(self.params.get("latency_repeats", LATENCY_REPEATS)) <= 0:
            raise ConfigError("evaluator.params.latency_repeats: must be positive")
        self.supernet_: Supernet | None = None
        self.checkpoint_: Path | None = None

    def setup(self) -> None:
        """Load an explicitly named checkpoint now, so a bad one fails before any trial."""
        if self.params.get("checkpoint"):
            self.load(Path(str(self.params["checkpoint"])))

    def load(self, path: Path) -> Supernet:
        """Load (once) the supernet checkpoint at ``path`` for this space and task."""
        from nas.supernet.from_study import load_supernet

        if self.supernet_ is None or self.checkpoint_ != path:
            self.task.prepare(self.device)
            self.supernet_ = load_supernet(path, self.space, self.task, device=self.device)
            self.supernet_.eval()
            self.checkpoint_ = path
            log.info("supernet evaluator: loaded %s", path)
        return self.supernet_

    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        import torch

        supernet = self.supernet_ or self._load_for(trial)
        start = time.perf_counter()
        metrics = self.score(supernet, arch)
        metrics["score_seconds"] = time.perf_counter() - start
        if self.params.get("hardware", True):
            from nas.metrics import hardware_metrics

            model = supernet.extract(arch)
            batch = self.task.example_batch(seed=self.seed).to(self.device)
            with torch.no_grad():
                metrics.update(hardware_metrics(
                    model, batch, repeats=int(self.params.get("latency_repeats", LATENCY_REPEATS))
                ))
        attrs = {"checkpoint": str(self.checkpoint_), "bn_batches": self._bn_batches()}
        return Evaluation(metrics=metrics, fidelity="supernet", attrs=attrs)

    def score(self, supernet: Supernet, arch: Architecture,
              splits: tuple[str, ...] = ("val",)) -> dict[str, float]:
        """Metrics (``val_accuracy``, ``val_loss`` …) of ``arch`` with inherited weights.

        Every split in ``splits`` is evaluated with the same recalibrated BN statistics.
        """
        import torch

        with supernet.activated(arch), torch.no_grad():
            batches = itertools.islice(self.task.train_batches(_CALIBRATION_EPOCH),
                                       self._bn_batches())
            supernet.recalibrate_bn(batches)
            values = self.task.evaluate_splits(supernet, splits)
        return {f"{split}_{key}": float(value)
                for split in splits for key, value in values[split].items()}

    def _bn_batches(self) -> int:
        return int(self.params.get("bn_batches", 10))

    def _load_for(self, trial: optuna.Trial | None) -> Supernet:
        try:
            return self.load(self._find_checkpoint(trial))
        except CheckpointError as exc:
            # A ConfigError stops the search at once instead of failing every trial alike.
            raise ConfigError(str(exc)) from None

    def _find_checkpoint(self, trial: optuna.Trial | None) -> Path:
        if trial is None:
            raise CheckpointError("evaluator 'supernet': no checkpoint; set "
                                  "evaluator.params.checkpoint to a `nas train-supernet` checkpoint")
        from nas.config import config_from_study
        from nas.supernet.from_study import config_hash, latest_checkpoint
        from nas.supernet.trainer import SupernetSettings

        config = config_from_study(trial.study)
        settings = SupernetSettings.from_mapping(config.supernet)
        if settings.checkpoint:
            return Path(settings.checkpoint)
        path = latest_checkpoint(Path(settings.checkpoint_dir), config.name,
                                 config_hash(config, settings))
        if path is None:
            raise CheckpointError(
                f"evaluator 'supernet': no checkpoint of study '{config.name}' in "
                f"{settings.checkpoint_dir}; run `nas train-supernet STUDY_FILE` first "
                "or set evaluator.params.checkpoint"
            )
        return path
