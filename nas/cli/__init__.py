"""The ``nas`` command line. Torch-free at import: ``nas --help`` answers at once.

Each command lives in its own module and imports heavy pieces inside the
command body. Errors the user can fix (:class:`nas.errors.NasError`) print as
one line on stderr with exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import sys

import typer

from nas.cli import _bench, _export, _inspect, _search
from nas.cli._app import app, state
from nas.errors import NasError

__all__ = ["app", "main"]

_ = (_bench, _search, _inspect, _export)  # commands register themselves on import


def main() -> None:
    try:
        app()
    except NasError as exc:
        if state.debug or os.environ.get("NAS_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {message}", err=True)
        sys.exit(2)
