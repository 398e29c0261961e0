"""nas: neural architecture search with SQL-stored studies.

Kept import-light (no torch) so ``nas --help``, the store and the dashboard
start fast; heavy pieces are imported from their modules.
"""

from __future__ import annotations

from typing import Any

from nas.architecture import Architecture
from nas.errors import NasError

__version__ = "0.1.0"
__all__ = ["Architecture", "NasError", "__version__", "load"]


def load(path: Any) -> Any:
    """``(model, arch)`` from an export folder written by ``nas export``.

    ``model`` is a ready ``torch.nn.Module`` in eval mode that takes the *raw*
    inputs ``model.onnx`` and ``model.ts`` take (the task's preprocessing, e.g.
    row-normalising node features, runs inside it; ``card.md`` says what to
    feed); ``model.network`` is the bare network, rebuilt from the search space
    with the weights loaded strictly from ``model.pt`` (``weights_only=True``).
    ``arch`` is its :class:`Architecture`. The folder is validated first
    (``SHA256SUMS`` over every file, arch.json against model.pt); a damaged one
    raises :class:`nas.errors.ExportError` with a one-line message.

    >>> model, arch = nas.load("exported/quickstart/3")  # doctest: +SKIP
    >>> logits = model(raw_x, edge_index)                  # doctest: +SKIP
    """
    from nas.export import load_export

    return load_export(path)
