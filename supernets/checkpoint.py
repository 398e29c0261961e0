"""Supernet checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint records the space, task, the task's input size (images) and every
shared tensor's shape, so loading one into a supernet of another space, another
task, another image size or other choice ranges fails with one clear :class:`~nas.errors.CheckpointError` instead of a
wall of ``load_state_dict`` mismatches.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nas.errors import CheckpointError, first_line
from supernets._base import Supernet

__all__ = ["save_checkpoint", "read_checkpoint", "load_into"]

FORMAT = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any], supernet: Supernet,
                    task: str) -> Path:
    """Write ``payload`` plus identity (space, task, shapes) to ``path`` via a temp file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(payload, format=FORMAT, space=supernet.space_name, task=task,
                input_size=supernet.spec.input_size, shapes=supernet.shapes())
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(data, tmp)
        os.replace(tmp, path)  # a kill mid-write never leaves a half checkpoint under `path`
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents; :class:`CheckpointError` if missing, corrupt or not ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"supernet checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, pickle and torch errors all mean "unreadable"
        raise CheckpointError(f"supernet checkpoint {path} is corrupt or unreadable: "
                              f"{first_line(exc, 200)}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "supernet" not in data:
        raise CheckpointError(f"{path} is not a supernet checkpoint (written by `nas train-supernet`)")
    return data


def load_into(supernet: Supernet, data: dict[str, Any], path: str | Path, task: str | None = None) -> None:
    """Check identity and shapes, then load the shared weights strictly."""
    if data.get("space") != supernet.space_name:
        raise CheckpointError(
            f"supernet checkpoint {path} is for space '{data.get('space')}', not '{supernet.space_name}'"
        )
    if task is not None and data.get("task") != task:
        raise CheckpointError(f"supernet checkpoint {path} was trained on task '{data.get('task')}', "
                              f"not '{task}'")
    # Weights trained on 16x16 images fit a 32x32 network's shapes (global pooling), but not its
    # features: refuse them. Checkpoints written before the size was recorded pass.
    if "input_size" in data and data["input_size"] != supernet.spec.input_size:
        raise CheckpointError(
            f"supernet checkpoint {path} was trained on inputs of size {data['input_size']}, "
            f"this task's are {supernet.spec.input_size} (task.params.image_size)"
        )
    theirs = {k: list(v) for k, v in dict(data.get("shapes", {})).items()}
    ours = supernet.shapes()
    for key in sorted(set(theirs) | set(ours)):
        if theirs.get(key) != ours.get(key):
            raise CheckpointError(
                f"supernet checkpoint {path} does not fit this supernet: '{key}' is "
                f"{theirs.get(key, 'absent')} there and {ours.get(key, 'absent')} here "
                "(other space choices or task dimensions)"
            )
    supernet.load_state_dict(data["supernet"], strict=True)
