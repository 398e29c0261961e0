"""The ``nas`` command line. Torch-free at import: ``nas --help`` answers at once.

Each command lives in its own private module of this package (``_search.py``,
``_dashboard.py`` …) and registers itself on :data:`app` (or on ``bench_app``
for ``nas bench …``) when imported; every module here is imported at start-up,
so a module must import heavy pieces (torch, streamlit) inside its command
body only. Errors the user can fix (:class:`nas.errors.NasError`) print as one
line on stderr with exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from nas.cli._app import app, state
from nas.errors import NasError, first_line

__all__ = ["app", "main"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "_app":
        importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    try:
        app()
    except NasError as exc:
        if state.debug or os.environ.get("NAS_DEBUG"):
            raise
        message = first_line(exc)
        typer.echo(f"error: {message}", err=True)
        sys.exit(2)
