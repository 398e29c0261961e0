"""Printing data the same way from every command: ``--format table|json|csv``.

* ``table``: a rich table for people. On a terminal it fits the window; when
  stdout is a pipe or a file no value is cut (the console is as wide as the
  widest row), so ``nas list | grep`` sees whole names.
* ``json``: a list of records (or one object), numbers rounded to what was
  measured (:func:`nas.units.round_measured`: no float32 noise, integral
  values as ints), in the store's units (accuracy as a fraction).
* ``csv``: one header row and one row per record, same values as JSON; a
  nested value (a dict) is spread over one column per key.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import typer

from nas.units import round_measured

__all__ = ["Format", "FORMAT_HELP", "make_console", "print_table", "to_json", "print_json",
           "print_csv", "clean"]

FORMAT_HELP = "Output: table (for people), json or csv (for scripts; accuracy as a fraction)."

#: columns wider than this only occur in data that nobody reads in a terminal anyway
_PIPE_WIDTH = 100_000


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def make_console(stderr: bool = False):  # type: ignore[no-untyped-def]
    """A rich console that never truncates when its stream is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    # No terminal: nothing to fit; no colour codes and no cut values in a pipe or a file.
    return Console(stderr=stderr, width=_PIPE_WIDTH, no_color=True, highlight=False,
                   soft_wrap=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None,
                right: Sequence[int] = ()) -> None:
    """A rich table; ``right``: indexes of numeric columns (right-aligned)."""
    from rich.table import Table

    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i in right else "left",
                         overflow="fold")
    for row in rows:
        table.add_row(*row)
    make_console().print(table)


#: keys whose values are given, not measured (an architecture's choices): kept exactly
EXACT_KEYS = frozenset({"arch", "values", "default", "low", "high", "step"})


def clean(value: Any) -> Any:
    """``value`` ready for JSON: numbers rounded to what was measured, NaN as null, numpy
    scalars as Python ones, containers cleaned recursively (values under
    :data:`EXACT_KEYS` are kept as they are: ``dropout = 0.0`` stays a float)."""
    if isinstance(value, Mapping):
        return {str(k): (v if k in EXACT_KEYS else clean(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        try:
            value = value.item()  # numpy scalar
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return None
        return round_measured(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return None if text == "NaT" else text
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(clean(data), indent=2, ensure_ascii=False)


def print_json(data: Any) -> None:
    typer.echo(to_json(data))


def print_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """One row per record; a dict value spreads over ``key.sub`` columns; a list joins with ';'."""
    flat = [_flatten(clean(r)) for r in records]
    if columns is None:
        columns = list(dict.fromkeys(k for r in flat for k in r))
    else:
        columns = [c for c in columns if any(c in r for r in flat)] or list(columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    typer.echo(buffer.getvalue(), nl=False)


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value
