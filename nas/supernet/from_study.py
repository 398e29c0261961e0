"""``nas train-supernet``: train a study's supernet, one checkpoint per epoch, resumable.

The study file names the space and task as for a search; its ``[supernet]``
table (:class:`nas.supernet.trainer.SupernetSettings`) says how to train. Each
epoch ends with a checkpoint at ``<checkpoint_dir>/<study>-<hash>-epoch<N>.pt``
(temp file + rename, kept for resuming), a row in the store's ``nas_supernets``
table, and a copy in the artifact store the study will use (id
``supernet-<hash>-epoch<N>.pt``, plus ``supernet-<hash>-latest.json`` naming
the newest with its sha256), so the ``supernet`` evaluator finds the latest one
from any folder or machine that reaches the store, by configuration hash, not
by study name or working folder. ``resume=True`` loads the last
checkpoint of the same configuration (same hash) and continues; since model,
optimiser and every random generator are restored, the result equals an
uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from nas.config import StudyConfig
from nas.device import resolve_device
from nas.errors import CheckpointError
from nas.store import SupernetCheckpoint, write_engine
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from nas.tasks import create_task
from search_spaces import create_space
from supernets import Supernet, create_supernet
from supernets.checkpoint import load_into, read_checkpoint, save_checkpoint

__all__ = ["SupernetRun", "train_supernet", "config_hash", "latest_checkpoint", "load_supernet",
           "published_checkpoint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SupernetRun:
    """What a training run produced."""

    checkpoint: Path
    epochs: int
    losses: list[float]
    seconds: float
    config_hash: str
    resumed_from: int


def config_hash(config: StudyConfig, settings: SupernetSettings | None = None) -> str:
    """A stable hash of what decides the supernet's weights (not epochs or folders)."""
    settings = settings or SupernetSettings.from_mapping(config.supernet)
    relevant = settings.to_dict()
    for key in ("epochs", "checkpoint_dir", "checkpoint", "keep_last"):
        relevant.pop(key, None)
    task_params = {k: v for k, v in dict(config.task.params).items() if k != "data_dir"}
    blob = json.dumps({
        "space": config.space.name, "choices": dict(config.space.params),
        "task": config.task.name, "task_params": task_params,
        "supernet": relevant, "seed": config.seed,
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_supernet(
    config: StudyConfig,
    *,
    resume: bool = False,
    storage: str | None = None,
    progress: bool = True,
    device: str | None = None,
    stop_after: int | None = None,
) -> SupernetRun:
    """Train (or resume) the study's supernet to ``[supernet] epochs``; ``stop_after`` ends early."""
    import torch

    settings = SupernetSettings.from_mapping(config.supernet)
    digest = config_hash(config, settings)
    device = resolve_device(device or config.device)
    supernet, task = build_supernet(config, settings, device)
    trainer = SupernetTrainer(supernet, task, settings, seed=config.seed)
    folder = Path(settings.checkpoint_dir)
    resumed_from = 0
    if resume:
        last = latest_checkpoint(folder, config.name, digest)
        if last is not None:
            data = read_checkpoint(last)
            load_into(supernet, data, last, task=config.task.name)
            trainer.load_state_dict(data)
            resumed_from = trainer.epoch
            log.info("resuming from %s (epoch %d)", last, trainer.epoch)
    start = time.perf_counter()
    path = latest_checkpoint(folder, config.name, digest) or folder / "none"
    bar = _progress(settings.epochs, trainer.epoch, progress)
    try:
        while trainer.epoch < settings.epochs:
            if stop_after is not None and trainer.epoch >= stop_after:
                break
            loss = trainer.run_epoch(on_step=lambda value: bar.set_postfix(loss=f"{value:.4f}"))
            path = folder / f"{config.name}-{digest}-epoch{trainer.epoch:04d}.pt"
            save_checkpoint(path, trainer.state_dict(), supernet, config.task.name)
            _record(storage or config.storage, path, config, digest, trainer.epoch)
            _publish(storage or config.storage, config, digest, path, trainer.epoch,
                     settings.keep_last)
            _prune(folder, config.name, digest, settings.keep_last)
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(1)
    finally:
        bar.close()
    torch.set_grad_enabled(True)
    return SupernetRun(path, trainer.epoch, list(trainer.losses), time.perf_counter() - start,
                       digest, resumed_from)


def build_supernet(config: StudyConfig, settings: SupernetSettings, device: str) -> tuple[Supernet, Any]:
    """The study's prepared task and a fresh supernet on ``device``."""
    space = create_space(config.space.name, dict(config.space.params))
    task_params = dict(config.task.params)
    if settings.batch_size:
        task_params["batch_size"] = settings.batch_size
    task = create_task(config.task.name, seed=config.seed, **task_params)
    spec = task.prepare(device)
    supernet = create_supernet(space, spec, seed=config.seed).to(device)
    return supernet, task


def latest_checkpoint(folder: Path, study: str, digest: str) -> Path | None:
    """The highest-epoch checkpoint of this study and configuration in ``folder``."""
    found = _checkpoints(folder, study, digest)
    return found[-1] if found else None


def load_supernet(path: str | Path, space: Any, task: Any, device: str = "cpu") -> Supernet:
    """A supernet for ``space`` on the prepared ``task`` with the checkpoint's weights."""
    data = read_checkpoint(path)
    if data.get("space") != space.name:
        raise CheckpointError(f"supernet checkpoint {path} is for space '{data.get('space')}', "
                              f"not '{space.name}'")
    supernet = create_supernet(space, task.spec, seed=0)
    load_into(supernet, data, path, task=task.name)
    return supernet.to(device)


def _record(storage: str | None, path: Path, config: StudyConfig, digest: str, epoch: int) -> None:
    engine = write_engine(storage)
    try:
        with Session(engine) as session:
            session.add(SupernetCheckpoint(path=str(path.resolve()), space=config.space.name,
                                           task=config.task.name, config_hash=digest, epoch=epoch))
            session.commit()
    finally:
        engine.dispose()


def published_checkpoint(store: Any, digest: str) -> dict[str, Any] | None:
    """``{"id", "sha256", "epoch"}`` of the newest checkpoint published for ``digest``, or None."""
    from optuna.artifacts.exceptions import ArtifactNotFound

    try:
        with store.open_reader(f"supernet-{digest}-latest.json") as reader:
            return dict(json.loads(reader.read().decode()))
    except (ArtifactNotFound, FileNotFoundError, ValueError):
        return None


def _publish(storage: str | None, config: StudyConfig, digest: str, path: Path, epoch: int,
             keep: int) -> None:
    """Copy the epoch's checkpoint into the artifact store, then point ``latest`` at it."""
    import io

    from nas.store import resolve_url
    from nas.store.artifacts import default_location, open_store, sha256_of

    store = open_store(default_location(resolve_url(storage), config.artifacts))
    record = {"id": f"supernet-{digest}-epoch{epoch:04d}.pt", "sha256": sha256_of(path),
              "epoch": epoch, "space": config.space.name, "task": config.task.name}
    with open(path, "rb") as handle:
        store.write(record["id"], handle)
    store.write(f"supernet-{digest}-latest.json", io.BytesIO(json.dumps(record).encode()))
    if keep > 0 and epoch - keep >= 1:
        from optuna.artifacts.exceptions import ArtifactNotFound

        try:
            store.remove(f"supernet-{digest}-epoch{epoch - keep:04d}.pt")
        except (ArtifactNotFound, FileNotFoundError):
            pass


def _prune(folder: Path, study: str, digest: str, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints of this configuration (a GNN's are ~50 MB)."""
    if keep <= 0:
        return
    for path in _checkpoints(folder, study, digest)[:-keep]:
        path.unlink(missing_ok=True)


def _checkpoints(folder: Path, study: str, digest: str) -> list[Path]:
    """This study and configuration's checkpoints in ``folder``, oldest epoch first."""
    pattern = re.compile(re.escape(f"{study}-{digest}-epoch") + r"(\d+)\.pt$")
    found = sorted((int(m.group(1)), p) for p in folder.glob("*.pt") if (m := pattern.match(p.name)))
    return [path for _epoch, path in found]


def _progress(total: int, done: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="supernet", unit="epoch", disable=not enabled,
                dynamic_ncols=True)
