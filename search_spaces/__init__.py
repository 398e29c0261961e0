"""Search spaces over GNN, CNN and transformer families.

A new space is one module in this package with a ``@register_space`` class;
it is discovered on the first registry lookup.
"""

from search_spaces._base import (
    Batch,
    Categorical,
    Choice,
    FloatRange,
    IntRange,
    SearchSpace,
    TaskSpec,
)
from search_spaces._registry import SPACES, create_space, register_space

__all__ = [
    "SPACES",
    "Batch",
    "Categorical",
    "Choice",
    "FloatRange",
    "IntRange",
    "SearchSpace",
    "TaskSpec",
    "create_space",
    "register_space",
]
