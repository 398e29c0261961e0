"""The ``train`` evaluator: train the standalone model, the highest fidelity there is.

Trains with early stopping on validation (:mod:`nas.train`), then measures
size and speed on one real batch (:func:`nas.metrics.hardware_metrics`).
Metrics are named by split: ``val_accuracy``, ``val_loss`` (and ``val_bpc``
for language models), ``test_*`` (kept as attrs, never an objective you should
select on), plus ``params``, ``flops``, ``latency_ms``, ``train_seconds``.
The trained weights are uploaded to the study's artifact store
(:mod:`nas.store.artifacts`) and the trial records the artifact's id and
sha256 (attr ``weights_artifact``), so ``nas export`` on any machine ships the
model that was scored, or refuses a damaged file.

Study-file parameters (``[evaluator.params]``): ``epochs`` (200), ``patience``
(30), ``lr`` and ``weight_decay`` (used when the space has no such choice; an
architecture's ``lr_scale`` choice multiplies the lr, whichever gave it),
``optimizer`` (adam), ``save_weights`` (true), ``latency_repeats``
(:data:`nas.metrics.LATENCY_REPEATS`, 10), ``eval_every`` (1), ``select``
("metric": keep the epoch with the best validation metric, or "loss": the
lowest validation loss; see :mod:`nas.train`), ``schedule`` ("constant",
"cosine" or "onecycle": the lr over all ``epochs``, per step), ``warmup``
(the share of steps warming up, 0 to <1; see :func:`nas.train.lr_factor`),
``decay`` ("all", or "matrices": weight decay on 2+-dim tensors only, no decay
on biases and norms), ``beta2`` (Adam's, 0.999; nanoGPT's character recipe
uses 0.99), ``consistency`` (1: forward passes per step; 2 or more adds GRAND's
consistency regularisation, see :class:`nas.train.TrainSettings`; an architecture's
``consistency`` choice wins), ``consistency_weight`` (1.0) and
``consistency_temperature`` (0.5), and ``repeats`` (1: train a search
trial that many times, with seeds ``seed + k * 100003``, and score it by the
mean validation figures: on small validation sets, such as Cora's 500 nodes,
one seed's luck otherwise picks the best trial; the pruner watches the first
run, whose weights are kept; an evaluation outside a trial, such as a
retraining with a list of seeds, is one run per seed).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.architecture import Architecture
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator, FetchArtifact, Weights
from nas.metrics import LATENCY_REPEATS
from nas.store.artifacts import WEIGHTS_ATTR, recorded_store, upload
from nas.train import SETTING_KINDS, TrainSettings, check_kinds

if TYPE_CHECKING:
    import optuna
    import optuna.trial

__all__ = ["TrainEvaluator", "TRAIN_METRICS"]

log = logging.getLogger(__name__)

_SPLIT_METRICS = ("accuracy", "loss", "bpc")
TRAIN_METRICS: tuple[str, ...] = (
    *(f"{split}_{m}" for split in ("val", "test") for m in _SPLIT_METRICS),
    "params", "flops", "latency_ms", "latency_p90_ms", "peak_memory_mb", "predicted_latency",
    "train_seconds",
)
#: study-file parameters: the training settings, and what the evaluator does around training
_PARAMS = {**SETTING_KINDS, "save_weights": bool, "latency_repeats": int, "repeats": int}
#: seeds of a trial's repeated runs are ``seed + k * _REPEAT_STRIDE``, clear of the next trials' seeds
_REPEAT_STRIDE = 100_003


@EVALUATORS.register("train")
class TrainEvaluator(Evaluator):
    """Train for up to ``epochs`` with early stopping; report validation metrics."""

    name: ClassVar[str] = "train"
    provides: ClassVar[tuple[str, ...]] = TRAIN_METRICS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reject_unknown_params(_PARAMS)
        check_kinds(self.params, _PARAMS, "evaluator.params.")
        self._store: Any = None
        # Every rule a training checks, checked now: a bad value fails before any trial.
        self.settings(Architecture({})).check()

    def settings(self, arch: Architecture) -> Any:
        """Training settings: the architecture's lr/weight_decay/consistency choices win over
        params, and its ``lr_scale`` multiplies the lr (a space whose models want a peak lr
        relative to the study's recipe, e.g. ``charlm``, searches that instead of ``lr``)."""
        p = self.params
        return TrainSettings(
            epochs=int(p.get("epochs", 200)),
            patience=int(p.get("patience", 30)),
            lr=float(arch.get("lr", p.get("lr", 0.01))) * float(arch.get("lr_scale", 1.0)),
            weight_decay=float(arch.get("weight_decay", p.get("weight_decay", 5e-4))),
            optimizer=str(p.get("optimizer", "adam")),
            eval_every=int(p.get("eval_every", 1)),
            grad_clip=p.get("grad_clip"),
            select=str(p.get("select", "metric")),
            schedule=str(p.get("schedule", "constant")),
            warmup=float(p.get("warmup", 0.0)),
            decay=str(p.get("decay", "all")),
            beta2=float(p.get("beta2", 0.999)),
            consistency=int(arch.get("consistency", p.get("consistency", 1))),
            consistency_weight=float(p.get("consistency_weight", 1.0)),
            consistency_temperature=float(p.get("consistency_temperature", 0.5)),
        )

    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        from nas.metrics import hardware_metrics
        from nas.train import seed_everything, train_model

        seed = self.seed if trial is None else self.seed + trial.number
        spec = self.task.prepare(self.device)
        models, runs = [], []
        repeats = int(self.params.get("repeats", 1)) if trial is not None else 1
        for k in range(repeats):
            run_seed = seed + k * _REPEAT_STRIDE
            seed_everything(run_seed)
            models.append(self.space.build(arch, spec))
            # Only the first run reports to the pruner: Optuna takes one curve per trial.
            runs.append(train_model(models[-1], self.task, self.settings(arch), seed=run_seed,
                                    trial=trial if k == 0 else None, device=self.device))
        model, result = models[0], runs[0]
        metrics: dict[str, float] = {}
        for split in ("val", "test"):
            for key in getattr(result, split):
                values = [float(getattr(run, split)[key]) for run in runs]
                metrics[f"{split}_{key}"] = sum(values) / len(values)
        batch = self.task.example_batch(seed=seed).to(self.device)
        metrics.update(hardware_metrics(
            model, batch, repeats=int(self.params.get("latency_repeats", LATENCY_REPEATS)),
            space=self.space, arch=arch, spec=spec,
        ))
        metrics["train_seconds"] = sum(run.seconds for run in runs)
        attrs: dict[str, Any] = {
            "seed": seed,
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "test_accuracy": metrics.get("test_accuracy"),
        }
        if len(runs) > 1:
            attrs["repeat_val_accuracy"] = [run.val.get("accuracy") for run in runs]
        if trial is not None and self.params.get("save_weights", True):
            record = self._save_weights(trial, result.state_dict)
            if record is not None:
                attrs[WEIGHTS_ATTR] = record
        return Evaluation(metrics=metrics, fidelity="train", attrs=attrs)

    def weights_of(self, trial: optuna.trial.FrozenTrial, arch: Architecture,
                   fetch: FetchArtifact) -> Weights:
        """The saved weights (hash-checked); without a saved artifact, trained again with the seed.

        Seeded CPU training is reproducible, so re-training a trial that kept no
        weights (``save_weights = false``) gives the scored model.
        """
        import torch

        from nas.errors import CheckpointError, first_line

        attrs = trial.user_attrs
        seed = int(attrs.get("seed", self.seed + trial.number))
        record = attrs.get(WEIGHTS_ATTR)
        model = self.space.build(arch, self.task.spec)
        if record:
            path = fetch(record, f"trial {trial.number}")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                model.load_state_dict(state, strict=True)
            except Exception as exc:  # noqa: BLE001 - zip/pickle errors, shape mismatches
                raise CheckpointError(f"trial {trial.number}: weights artifact {record['id']} "
                                      f"does not fit the architecture: {first_line(exc, 200)}") from None
            return Weights(model, "trained",
                           f"the weights the `train` evaluator saved for this trial (artifact "
                           f"{record['id']}, sha256 {record['sha256'][:12]}…; {attrs.get('epochs')} "
                           f"epochs, seed {seed}, best validation epoch {attrs.get('best_epoch', '?')})")
        from nas.train import seed_everything, train_model

        log.info("trial %d kept no weights; re-training with seed %d", trial.number, seed)
        seed_everything(seed)
        model = self.space.build(arch, self.task.spec)
        result = train_model(model, self.task, self.settings(arch), seed=seed, device="cpu")
        measured = {f"{split}_{k}": float(v) for split, values in (("val", result.val),
                    ("test", result.test)) for k, v in values.items()}
        return Weights(model, "retrained",
                       f"re-trained at export with the trial's seed {seed} and the study's training "
                       f"settings ({result.epochs_run} epochs, best epoch {result.best_epoch}), "
                       "because the search kept no weights; seeded CPU runs reproduce the "
                       "scored model", measured)

    def _save_weights(self, trial: optuna.Trial, state_dict: dict[str, Any]) -> dict[str, str] | None:
        """Upload the weights as an artifact of ``trial``; ``{"id", "sha256"}``.

        None for a study without an artifact store (not created by ``nas search``).
        """
        import torch

        if self._store is None:
            self._store = recorded_store(trial.study) or False
        if self._store is False:
            return None
        with tempfile.TemporaryDirectory(prefix="nas-weights-") as folder:
            path = Path(folder) / f"trial-{trial.number}.pt"
            torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, path)
            return upload(self._store, path, trial)
