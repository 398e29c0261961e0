"""The search-space registry: ``@register_space("gnn")`` on a SearchSpace subclass."""

from __future__ import annotations

from typing import Any

from nas.registry import Registry
from search_spaces._base import SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("search space", package="search_spaces")


def register_space(name: str):  # type: ignore[no-untyped-def]
    """Register a :class:`SearchSpace` subclass under ``name`` (sets ``cls.name``)."""

    def decorate(cls: type[SearchSpace]) -> type[SearchSpace]:
        cls.name = name
        return SPACES.register(name)(cls)

    return decorate


def create_space(name: str, overrides: dict[str, Any] | None = None) -> SearchSpace:
    """Instantiate a registered space with study-file overrides."""
    return SPACES.get(name)(overrides)
