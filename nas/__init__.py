"""nas: neural architecture search with SQL-stored studies.

Kept import-light (no torch) so ``nas --help``, the store and the dashboard
start fast; heavy pieces are imported from their modules.
"""

from __future__ import annotations

from typing import Any

from nas._version import __version__
from nas.architecture import Architecture
from nas.errors import NasError

__all__ = ["Architecture", "NasError", "__version__", "load"]


def load(path: Any) -> Any:
    """``(model, arch)`` from an export folder written by ``nas export``.

    ``model`` is a ready ``torch.nn.Module`` in eval mode (rebuilt from the
    search space, weights loaded strictly from ``model.pt`` with
    ``weights_only=True``); ``arch`` its :class:`Architecture`. The folder is
    validated first (files, checksums, arch.json against model.pt); a damaged
    one raises :class:`nas.errors.ExportError` with a one-line message.

    >>> model, arch = nas.load("exported/quickstart/3")  # doctest: +SKIP
    >>> logits = model(x, edge_index)                      # doctest: +SKIP
    """
    from nas.export import load_export

    return load_export(path)
