"""Zero-cost features of architectures, for learned performance predictors.

:func:`graph_features` turns an architecture into a fixed-length vector without
building or running anything: GRAF-style graph features (Kadlecová et al.
2024, "Surprisingly strong performance prediction with neural graph
features") where the space describes its cell as a graph, features of the
choices themselves otherwise. Every sampler, evaluator and benchmark may use
them; computing them costs microseconds, so they are memoised in memory rather
than stored (reading them back from SQL would cost more than computing them).

>>> names = feature_names(space)            # doctest: +SKIP
>>> vector = graph_features(space, arch)    # doctest: +SKIP
"""

from __future__ import annotations

from nas.features.graph import (
    COMPACT,
    CellGraph,
    cell_graph_features,
    choice_features,
    compact_columns,
    feature_matrix,
    feature_names,
    graph_features,
)

__all__ = [
    "COMPACT",
    "CellGraph",
    "compact_columns",
    "cell_graph_features",
    "choice_features",
    "feature_matrix",
    "feature_names",
    "graph_features",
]
