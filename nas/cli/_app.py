"""The Typer application object and options shared by commands."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import typer

__all__ = ["app", "state", "STORAGE_HELP", "console", "err_console"]


@dataclass
class _State:
    debug: bool = False


state = _State()

STORAGE_HELP = "SQLAlchemy URL of the study database (default: $NAS_STORAGE or sqlite:///nas.db)."

app = typer.Typer(
    name="nas",
    help=(
        "Neural architecture search over GNN, CNN and transformer spaces.\n\n"
        "Describe a search in a TOML study file, run it with `nas search FILE`, "
        "inspect it with `nas list` / `nas show`, and export models with `nas export`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    state.debug = debug
    if not debug:
        # Optuna flags features such as heartbeat retries as experimental on every use; the
        # warning is noise in a one-line error and says nothing the user can act on.
        warnings.filterwarnings("ignore", message=r".*(is experimental|an experimental feature)")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def console():  # type: ignore[no-untyped-def]
    """Rich console on stdout; wide and plain when stdout is not a terminal (no cut values)."""
    from nas.cli._output import make_console

    return make_console()


def err_console():  # type: ignore[no-untyped-def]
    from nas.cli._output import make_console

    return make_console(stderr=True)
