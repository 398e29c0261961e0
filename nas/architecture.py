"""The architecture value type: a frozen, JSON-safe mapping of choices.

An :class:`Architecture` is shaped exactly like Optuna's ``trial.params``
(``{choice_name: value}``), so an Optuna trial *is* an architecture and every
sampler works unchanged.

>>> a = Architecture({"conv": "gcn", "layers": 2})
>>> Architecture.from_json(a.to_json()) == a
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Union

from nas.errors import InvalidArchitecture

__all__ = ["Architecture", "ChoiceValue"]

ChoiceValue = Union[str, int, float, bool]


class Architecture(Mapping[str, ChoiceValue]):
    """Immutable ``{choice: value}`` with a stable :attr:`key`."""

    __slots__ = ("_items", "_key")

    def __init__(self, choices: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        merged = dict(choices or {}, **kwargs)
        items: dict[str, ChoiceValue] = {}
        for name, value in sorted(merged.items()):
            if not isinstance(name, str):
                raise InvalidArchitecture(f"choice names must be strings, got {name!r}")
            items[name] = _json_safe(name, value)
        self._items = items
        self._key: str | None = None

    def __getitem__(self, name: str) -> ChoiceValue:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Architecture):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._items.items())
        return f"Architecture({inner})"

    @property
    def key(self) -> str:
        """A stable 16-hex-digit hash of the sorted JSON (same on every machine)."""
        if self._key is None:
            self._key = hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
        return self._key

    def to_json(self) -> str:
        return json.dumps(self._items, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchitecture(f"architecture is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidArchitecture("architecture JSON must be an object of {choice: value}")
        return cls(data)

    def to_dict(self) -> dict[str, ChoiceValue]:
        return dict(self._items)

    def replace(self, **changes: Any) -> Architecture:
        """A copy with some choices changed (used by mutation)."""
        return Architecture({**self._items, **changes})


def _json_safe(name: str, value: Any) -> ChoiceValue:
    # numpy scalars come out of samplers; normalise them to plain Python.
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bool) or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArchitecture(f"choice {name!r} must be finite, got {value}")
        return value
    raise InvalidArchitecture(
        f"choice {name!r} must be str, int, float or bool, got {type(value).__name__}"
    )
