"""``nas train-supernet``: train a study's supernet, one checkpoint per epoch, resumable.

The study file names the space and task as for a search; its ``[supernet]``
table (:class:`nas.supernet.trainer.SupernetSettings`) says how to train. Each
epoch ends with a checkpoint at ``<checkpoint_dir>/<study>-<hash>-epoch<N>.pt``
(temp file + rename) and a row in the store's ``nas_supernets`` table, so the
``supernet`` evaluator finds the latest one. ``resume=True`` loads the last
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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from nas.config import StudyConfig
from nas.device import resolve_device
from nas.errors import CheckpointError, StorageError
from nas.store import SupernetCheckpoint, read_engine, write_engine
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from nas.tasks import create_task
from search_spaces import create_space
from supernets import Supernet, create_supernet
from supernets.checkpoint import load_into, read_checkpoint, save_checkpoint

__all__ = ["SupernetRun", "train_supernet", "config_hash", "latest_checkpoint", "load_supernet"]

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


def find_recorded_checkpoint(storage: str | None, space: str, task: str) -> Path | None:
    """The newest checkpoint recorded in ``nas_supernets`` for a space and task whose file exists."""
    try:
        engine = read_engine(storage)
    except StorageError:
        return None
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(SupernetCheckpoint.path)
                .where(SupernetCheckpoint.space == space, SupernetCheckpoint.task == task)
                .order_by(SupernetCheckpoint.created_at.desc(), SupernetCheckpoint.id.desc())
            ).all()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    for (path,) in rows:
        if Path(path).is_file():
            return Path(path)
    return None


def _record(storage: str | None, path: Path, config: StudyConfig, digest: str, epoch: int) -> None:
    engine = write_engine(storage)
    try:
        with Session(engine) as session:
            session.add(SupernetCheckpoint(path=str(path.resolve()), space=config.space.name,
                                           task=config.task.name, config_hash=digest, epoch=epoch))
            session.commit()
    finally:
        engine.dispose()


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
