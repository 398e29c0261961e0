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
    """Load an exported model folder: ``model, arch = nas.load("exported/s/3")``."""
    from nas.export import load_export

    return load_export(path)
