"""Uniform architecture sampling (SPOS, Guo et al. 2020) from a seeded numpy generator.

The trainer and the benchmark draw architectures without an Optuna trial;
the generator's state goes into checkpoints so a resumed run draws the same.
"""

from __future__ import annotations

import math

import numpy as np

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture
from search_spaces import Categorical, FloatRange, SearchSpace

__all__ = ["random_arch"]

_TRIES = 100


def random_arch(space: SearchSpace, rng: np.random.Generator) -> Architecture:
    """One architecture, each choice uniform over its values (log-uniform for log ranges)."""
    for _ in range(_TRIES):
        values = {}
        for name, choice in space.choices().items():
            if isinstance(choice, Categorical):
                values[name] = choice.values[int(rng.integers(len(choice.values)))]
            elif isinstance(choice, FloatRange):
                if choice.log:
                    low, high = math.log(choice.low), math.log(choice.high)
                    values[name] = float(math.exp(rng.uniform(low, high)))
                else:
                    values[name] = float(rng.uniform(choice.low, choice.high))
            else:
                grid = choice.grid()
                values[name] = grid[int(rng.integers(len(grid)))]
        try:
            return space.validate(Architecture(values))
        except InvalidArchitecture:
            continue
    raise InvalidArchitecture(f"{space.name}: no valid architecture in {_TRIES} random draws")
