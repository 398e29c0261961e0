"""What the elastic spaces (``mobilenet``, ``vit``, ``charlm``) share: per-layer choices.

Per-layer choices are flat names (``layer3_heads``, ``s2_b4_kernel``) so that an
architecture stays shaped like Optuna's ``trial.params``. Every trial samples
every name, including those of layers beyond the sampled depth: those values
exist but are *ignored* by :meth:`build`, and :meth:`encode` writes zeros for
them so a predictor sees two architectures that build the same model as equal.

Every choice of these spaces is numeric and "bigger value = bigger model", so
:meth:`largest` / :meth:`smallest` take each choice's maximum / minimum (what
a supernet's sandwich rule trains, Yu & Huang 2019).
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitecture
from search_spaces._base import Categorical, SearchSpace

__all__ = ["LayeredSpace"]


class LayeredSpace(SearchSpace):
    """A space whose choices are global ones plus per-layer ones, some inactive."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        super().__init__(overrides)
        self._check_choices()

    @abstractmethod
    def is_active(self, name: str, arch: Architecture) -> bool:
        """Whether choice ``name`` affects the model built for ``arch``."""

    @abstractmethod
    def depth_choices(self) -> list[str]:
        """The choices that decide which others are active (depths)."""

    def size(self) -> int:
        """Distinct models: architectures that differ only in inactive choices count once.

        For every combination of the depth choices, the product of the grid
        sizes of the choices active under it (``is_active`` depends on depths only).
        """
        choices = self.choices()
        depths = self.depth_choices()
        others = [n for n in choices if n not in depths]
        base = dict(self.default())
        total = 0
        for values in itertools.product(*(choices[n].grid() for n in depths)):
            arch = Architecture({**base, **dict(zip(depths, values))})
            count = 1
            for name in others:
                if self.is_active(name, arch):
                    count *= len(choices[name].grid())
            total += count
        return total

    def _check_choices(self) -> None:
        """Reject overrides under which some combination cannot be built (ConfigError)."""

    def largest(self) -> Architecture:
        return Architecture({n: max(c.grid()) for n, c in self.choices().items()})

    def smallest(self) -> Architecture:
        return Architecture({n: min(c.grid()) for n, c in self.choices().items()})

    def encode(self, arch: Architecture) -> np.ndarray:
        """The base one-hot/scaled encoding with the choices of inactive layers zeroed."""
        vector = super().encode(arch)
        offset = 0
        for name, choice in self.choices().items():
            width = len(choice.values) if isinstance(choice, Categorical) else 1
            if not self.is_active(name, arch):
                vector[offset:offset + width] = 0.0
            offset += width
        return vector

    # -- helpers for the transformer spaces ---------------------------------
    def _check_heads_divide(self, dim_name: str, heads_names: list[str]) -> None:
        """Every heads value must divide every dim value, so sampling never fails."""
        choices = self.choices()
        for heads_name in heads_names:
            for heads in choices[heads_name].grid():
                for dim in choices[dim_name].grid():
                    if int(heads) <= 0 or int(dim) % int(heads):
                        raise ConfigError(
                            f"space.choices.{heads_name}: {heads} heads do not divide "
                            f"{dim_name} {dim}; every heads value must divide every "
                            f"{dim_name} value ({', '.join(map(str, choices[dim_name].grid()))})"
                        )

    def _check_arch_heads(self, arch: Architecture, dim: int, heads_names: list[str]) -> None:
        for heads_name in heads_names:
            if self.is_active(heads_name, arch) and dim % int(arch[heads_name]):
                raise InvalidArchitecture(
                    f"{self.name}: {heads_name} = {arch[heads_name]} does not divide the model "
                    f"dim {dim} (attention heads split the dim evenly)"
                )
