"""Tasks: data set + loss + metric. One module per task family, one decorator per task."""

from __future__ import annotations

from typing import Any

from nas.registry import Registry
from nas.tasks._base import Task, default_data_dir, require_file

TASKS: Registry[type[Task]] = Registry("task", package="nas.tasks")


def create_task(name: str, **kwargs: Any) -> Task:
    return TASKS.get(name)(**kwargs)


__all__ = ["TASKS", "Task", "create_task", "default_data_dir", "require_file"]
