"""The supernet registry: ``@register_supernet("gnn")`` on a :class:`Supernet` subclass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nas.registry import Registry

if TYPE_CHECKING:
    from search_spaces import SearchSpace, TaskSpec
    from supernets._base import Supernet

__all__ = ["SUPERNETS", "register_supernet", "create_supernet"]

SUPERNETS: Registry[type[Supernet]] = Registry("supernet", package="supernets")


def register_supernet(space: str):  # type: ignore[no-untyped-def]
    """Register a supernet class for the search space named ``space``."""

    def decorate(cls: type[Supernet]) -> type[Supernet]:
        cls.space_name = space
        return SUPERNETS.register(space)(cls)

    return decorate


def create_supernet(space: SearchSpace, spec: TaskSpec, seed: int = 0, **params: Any) -> Supernet:
    """The supernet of ``space`` (by its name) for a task; unknown spaces list the known ones."""
    return SUPERNETS.get(space.name)(space, spec, seed=seed, **params)
