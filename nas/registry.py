"""Registries: one per extension point (spaces, tasks, evaluators, samplers, proxies, supernets).

A plugin is one file and one decorator. Registries discover their package's
modules lazily, on the first lookup, so importing the registry (and so
``nas --help``) costs nothing, and no giant ``__init__`` fills them as a side
effect (see STYLE.md, timm).

>>> COLOURS = Registry("colour")
>>> @COLOURS.register("red")
... class Red: ...
>>> COLOURS.get("red") is Red
True
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from nas.errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to plugins; unknown names get an error listing the known ones."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self._package = package
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._discovered = package is None

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator: ``@SPACES.register("gnn")``."""

        def decorate(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return decorate

    def get(self, name: str) -> T:
        self._discover()
        canonical = self._aliases.get(name, name)
        try:
            return self._entries[canonical]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {self.kind} '{name}'{hint}; known: {', '.join(known)}"

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        self._discover()
        yield from sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries or name in self._aliases

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self._package)  # type: ignore[arg-type]
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self._package}.{module.name}")
