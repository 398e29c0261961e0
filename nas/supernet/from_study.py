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

With ``[supernet] split_on = ["choice", ...]`` (few-shot NAS, Zhao et al.
2021) it trains one supernet per combination of those choices' values, each on
the space with them fixed (:func:`few_shot_groups`, :func:`group_config`): a
group's checkpoints are those of its own configuration hash, so each group
resumes, is published and is found on its own.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from nas.config import Component, FrozenDict, StudyConfig
from nas.device import resolve_device
from nas.errors import CheckpointError, ConfigError
from nas.store import SupernetCheckpoint, write_engine
from nas.supernet.trainer import SupernetSettings, SupernetTrainer
from nas.tasks import create_task
from search_spaces import create_space
from supernets import Supernet, create_supernet
from supernets.checkpoint import load_into, read_checkpoint, save_checkpoint

__all__ = ["SupernetRun", "train_supernet", "config_hash", "latest_checkpoint", "load_supernet",
           "published_checkpoint", "few_shot_groups", "group_config", "group_of"]

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
    #: few-shot: the group's fixed choices ({} for a one-shot supernet) and, on the
    #: summary run ``train_supernet`` returns, every group's own run
    group: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[SupernetRun, ...] = ()


def few_shot_groups(config: StudyConfig, settings: SupernetSettings | None = None
                    ) -> list[dict[str, Any]]:
    """The groups of a few-shot supernet: every combination of the ``split_on`` choices'
    values in the study's space (``[{}]``, one group, without ``split_on``)."""
    settings = settings or SupernetSettings.from_mapping(config.supernet)
    if not settings.split_on:
        return [{}]
    choices = create_space(config.space.name, dict(config.space.params)).choices()
    grids = []
    for name in settings.split_on:
        if name not in choices:
            raise ConfigError(f"supernet.split_on: '{name}' is not a choice of space "
                              f"'{config.space.name}'; choices: {', '.join(choices)}")
        try:
            grids.append(choices[name].grid())
        except ValueError:
            raise ConfigError(f"supernet.split_on: '{name}' is a continuous range; split on "
                              "categorical or integer choices") from None
    return [dict(zip(settings.split_on, values)) for values in itertools.product(*grids)]


def group_config(config: StudyConfig, group: Mapping[str, Any]) -> StudyConfig:
    """The study narrowed to one few-shot group: its ``split_on`` choices fixed."""
    if not group:
        return config
    params = {**dict(config.space.params), **dict(group)}
    return replace(config, space=Component(config.space.name, FrozenDict(params)))


def group_of(settings: SupernetSettings, arch: Mapping[str, Any]) -> dict[str, Any]:
    """The few-shot group that scores ``arch``: its values of the ``split_on`` choices."""
    return {name: arch[name] for name in settings.split_on}


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
    """Train (or resume) the study's supernet to ``[supernet] epochs``; ``stop_after`` ends early.

    A few-shot study (``split_on``) trains its groups one after the other and returns a
    summary run whose ``groups`` holds each group's run.
    """
    settings = SupernetSettings.from_mapping(config.supernet)
    groups = few_shot_groups(config, settings)
    if groups == [{}]:
        return _train_one(config, settings, {}, resume=resume, storage=storage,
                          progress=progress, device=device, stop_after=stop_after)
    runs = []
    for group in groups:
        log.info("few-shot group %s", group)
        runs.append(_train_one(group_config(config, group), settings, group, resume=resume,
                               storage=storage, progress=progress, device=device,
                               stop_after=stop_after))
    return SupernetRun(runs[-1].checkpoint, min(r.epochs for r in runs),
                       [loss for r in runs for loss in r.losses[-1:]],
                       sum(r.seconds for r in runs), config_hash(config, settings),
                       min(r.resumed_from for r in runs), groups=tuple(runs))


def _train_one(config: StudyConfig, settings: SupernetSettings, group: Mapping[str, Any], *,
               resume: bool, storage: str | None, progress: bool, device: str | None,
               stop_after: int | None) -> SupernetRun:
    import torch

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
    label = "supernet" + "".join(f" {k}={v}" for k, v in group.items())
    bar = _progress(settings.epochs, trainer.epoch, progress, label)
    try:
        while trainer.epoch < settings.epochs:
            if stop_after is not None and trainer.epoch >= stop_after:
                break
            loss = trainer.run_epoch(on_step=lambda value: bar.set_postfix(loss=f"{value:.4f}"))
            path = folder / f"{config.name}-{digest}-epoch{trainer.epoch:04d}.pt"
            # A group's checkpoint names its fixed choices: loading rebuilds its part of the space.
            payload = {**trainer.state_dict(), **({"group": dict(group)} if group else {})}
            save_checkpoint(path, payload, supernet, config.task.name)
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
                       digest, resumed_from, group=dict(group))


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
    """A supernet for ``space`` on the prepared ``task`` with the checkpoint's weights
    (a few-shot group's: for ``space`` with the group's choices fixed)."""
    data = read_checkpoint(path)
    if data.get("space") != space.name:
        raise CheckpointError(f"supernet checkpoint {path} is for space '{data.get('space')}', "
                              f"not '{space.name}'")
    if data.get("group"):
        try:
            space = space.fixed(dict(data["group"]))
        except ConfigError as exc:
            raise CheckpointError(f"supernet checkpoint {path} is a few-shot group "
                                  f"{dict(data['group'])} outside this space: {exc}") from None
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


def _progress(total: int, done: int, enabled: bool, label: str = "supernet") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=label, unit="epoch", disable=not enabled,
                dynamic_ncols=True)
