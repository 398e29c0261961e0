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
   study name and training configuration) in ``[supernet] checkpoint_dir``; with
   ``[supernet] split_on`` (few-shot) the one of the architecture's own group,
   so each architecture is scored by the supernet trained on its part of the
   space (every group's supernet is loaded once per worker and kept).

A checkpoint of another space, task or other choice ranges is refused with a
:class:`~nas.errors.CheckpointError` naming the difference. The checkpoint a
worker scores with is uploaded once to the study's artifact store and every
trial records it (attr ``checkpoint_artifact``: id and sha256), so ``nas
export`` on another machine extracts the same subnet.

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
from nas.evaluators._base import Evaluation, Evaluator, FetchArtifact, Weights
from nas.metrics import LATENCY_REPEATS
from nas.store.artifacts import recorded_store, sha256_of, upload

if TYPE_CHECKING:
    import optuna
    import optuna.trial

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
        #: the loaded checkpoint as an artifact of the study (``{"id", "sha256"}``), once uploaded
        self.checkpoint_artifact_: dict[str, str] | None = None
        #: every checkpoint loaded so far (few-shot: one per group), with its artifact record
        self._loaded: dict[Path, tuple[Supernet, dict[str, str] | None]] = {}
        self._split_on: tuple[str, ...] | None = None  # read from the study on the first trial

    def setup(self) -> None:
        """Load an explicitly named checkpoint now, so a bad one fails before any trial."""
        if self.params.get("checkpoint"):
            self.load(Path(str(self.params["checkpoint"])))

    def load(self, path: Path) -> Supernet:
        """Load (once) the supernet checkpoint at ``path`` for this space and task (a
        few-shot group's for its part of the space) and make it the current one."""
        from nas.supernet.from_study import load_supernet

        if self.checkpoint_ is not None and self.supernet_ is not None:
            self._loaded[self.checkpoint_] = (self.supernet_, self.checkpoint_artifact_)
        if path not in self._loaded:
            self.task.prepare(self.device)
            supernet = load_supernet(path, self.space, self.task, device=self.device)
            supernet.eval()
            self._loaded[path] = (supernet, None)
            log.info("supernet evaluator: loaded %s", path)
        self.supernet_, self.checkpoint_artifact_ = self._loaded[path]
        self.checkpoint_ = path
        return self.supernet_

    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        import torch

        supernet = self._supernet_for(arch, trial)
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
        attrs: dict[str, Any] = {"checkpoint": str(self.checkpoint_), "bn_batches": self._bn_batches()}
        record = self._checkpoint_artifact(trial) if trial is not None else None
        if record is not None:
            attrs["checkpoint_artifact"] = record
        return Evaluation(metrics=metrics, fidelity="supernet", attrs=attrs)

    def weights_of(self, trial: optuna.trial.FrozenTrial, arch: Architecture,
                   fetch: FetchArtifact) -> Weights:
        """``extract(arch)`` from the checkpoint that scored ``trial``, BN recalibrated as then.

        The same checkpoint (the trial's artifact, hash-checked; for trials
        scored before artifacts, the recorded file) and the same recalibration
        batches, so the validation figures measured here are the trial's own
        and ``extract`` copies the recalibrated statistics.
        """
        attrs = trial.user_attrs
        if "bn_batches" in attrs:
            self.params["bn_batches"] = int(attrs["bn_batches"])
        record = attrs.get("checkpoint_artifact")
        if record:
            path = fetch(record, f"trial {trial.number}")
            where = f"artifact {record['id']}"
        else:
            path = Path(str(attrs.get("checkpoint") or ""))
            where = str(path)
            if not attrs.get("checkpoint") or not path.is_file():
                raise CheckpointError(
                    f"trial {trial.number} was scored with a supernet, but its checkpoint "
                    f"{attrs.get('checkpoint') or '(none recorded)'} is not on this machine; "
                    "copy it here, or pass --finetune-epochs E to train the architecture from scratch")
        supernet = self.load(path)
        measured = self.score(supernet, arch)  # recalibrates BN in the shared weights
        model = supernet.extract(arch).cpu()
        return Weights(
            model, "supernet",
            f"inherited from the trained `{self.space.name}` supernet ({where}) via extract(arch), "
            f"after BN recalibration on {self._bn_batches()} training batch(es) as in the search; "
            "not trained standalone",
            measured,
        )

    def _checkpoint_artifact(self, trial: optuna.Trial) -> dict[str, str] | None:
        """The loaded checkpoint as an artifact of the study: uploaded once per digest.

        None for a study without an artifact store (not created by ``nas search``).
        """
        if self.checkpoint_artifact_ is None:
            assert self.checkpoint_ is not None
            store = recorded_store(trial.study)
            if store is None:
                self.checkpoint_artifact_ = {}  # checked once per loaded checkpoint
                return None
            digest = sha256_of(self.checkpoint_)
            known = dict(trial.study.user_attrs.get("nas_supernet_artifacts") or {})
            if digest not in known:
                known[digest] = upload(store, self.checkpoint_, trial.study)["id"]
                trial.study.set_user_attr("nas_supernet_artifacts", known)
            self.checkpoint_artifact_ = {"id": known[digest], "sha256": digest}
        return self.checkpoint_artifact_ or None

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

    def _supernet_for(self, arch: Architecture, trial: optuna.Trial | None) -> Supernet:
        """The loaded supernet that scores ``arch``: the one checkpoint, or its group's."""
        if self.params.get("checkpoint") and self.supernet_ is not None:
            return self.supernet_
        if self._split_on is None and trial is not None:
            from nas.config import config_from_study
            from nas.supernet.trainer import SupernetSettings

            config = config_from_study(trial.study)
            self._split_on = SupernetSettings.from_mapping(config.supernet).split_on
        if self.supernet_ is not None and not self._split_on:
            return self.supernet_
        return self._load_for(trial, arch)

    def _load_for(self, trial: optuna.Trial | None, arch: Architecture | None = None) -> Supernet:
        try:
            try:
                return self.load(self._find_checkpoint(trial, arch))
            except CheckpointError:
                published = self._published(trial, arch)
                if published is None:
                    raise
                return published
        except CheckpointError as exc:
            # A ConfigError stops the search at once instead of failing every trial alike.
            raise ConfigError(str(exc)) from None

    def _study_config(self, trial: optuna.Trial, arch: Architecture | None) -> tuple[Any, Any, dict]:
        """The study's config narrowed to ``arch``'s few-shot group, its settings, the group."""
        from nas.config import config_from_study
        from nas.supernet.from_study import group_config, group_of
        from nas.supernet.trainer import SupernetSettings

        config = config_from_study(trial.study)
        settings = SupernetSettings.from_mapping(config.supernet)
        group = group_of(settings, arch) if arch is not None else {}
        return group_config(config, group), settings, group

    def _published(self, trial: optuna.Trial | None,
                   arch: Architecture | None = None) -> Supernet | None:
        """The newest checkpoint `nas train-supernet` published to the study's artifact store."""
        import tempfile

        from nas.store.artifacts import download
        from nas.supernet.from_study import config_hash, published_checkpoint

        store = recorded_store(trial.study) if trial is not None else None
        if store is None:
            return None
        config, settings, _group = self._study_config(trial, arch)
        record = published_checkpoint(store, config_hash(config, settings))
        if record is None:
            return None
        folder = Path(tempfile.mkdtemp(prefix="nas-supernet-"))
        path = download(store, record, folder / str(record["id"]), "supernet checkpoint")
        supernet = self.load(path)
        self.checkpoint_artifact_ = {"id": str(record["id"]), "sha256": str(record["sha256"])}
        return supernet

    def _find_checkpoint(self, trial: optuna.Trial | None,
                         arch: Architecture | None = None) -> Path:
        """The checkpoint that scores ``arch`` (few-shot: its group's)."""
        if trial is None:
            raise CheckpointError("evaluator 'supernet': no checkpoint; set "
                                  "evaluator.params.checkpoint to a `nas train-supernet` checkpoint")
        from nas.supernet.from_study import config_hash, latest_checkpoint

        config, settings, group = self._study_config(trial, arch)
        if settings.checkpoint:
            return Path(settings.checkpoint)
        path = latest_checkpoint(Path(settings.checkpoint_dir), config.name,
                                 config_hash(config, settings))
        if path is None:
            of_group = f" for the few-shot group {group}" if group else ""
            raise CheckpointError(
                f"evaluator 'supernet': no checkpoint of study '{config.name}'{of_group} in "
                f"{settings.checkpoint_dir}; run `nas train-supernet STUDY_FILE` first "
                "or set evaluator.params.checkpoint"
            )
        return path
