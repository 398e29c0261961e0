"""``nas list``, ``nas show`` and ``nas spaces``: reading studies and spaces."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import typer

from nas.cli._app import STORAGE_HELP, app, console


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command("list")
def list_command(
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
) -> None:
    """List the studies in the storage with their trial counts."""
    from rich.table import Table

    from nas.store import list_studies, read_engine

    studies = list_studies(read_engine(storage))
    if studies.empty:
        console().print("no studies yet: run `nas search STUDY_FILE`")
        return
    table = Table("study", "space", "task", "sampler", "objectives", "complete", "running",
                  "failed", "last update")
    for row in studies.itertuples():
        table.add_row(
            row.study_name, str(getattr(row, "space", "")), str(getattr(row, "task", "")),
            str(getattr(row, "sampler", "")),
            ", ".join(f"{m} ({d[:3]})" for m, d in zip(_objectives(row), row.directions)),
            str(row.complete), str(row.running), str(row.fail),
            str(row.last_update)[:19] if row.last_update == row.last_update else "",
        )
    console().print(table)


@app.command()
def show(
    study: str = typer.Argument(..., help="Study name (see `nas list`)."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
    all_trials: bool = typer.Option(False, "--all", help="All complete trials, not only the best."),
) -> None:
    """Show a study's best trial (one objective) or Pareto front (several)."""
    from nas.store import resolve_url

    print_front(resolve_url(storage), study, fmt=fmt.value, all_trials=all_trials)


@app.command()
def spaces(
    plugins: list[str] = typer.Option(
        None, "--plugin", "-p",
        help="A plugin file or module whose spaces to list too (repeatable); "
             "installed `nas.plugins` entry points are always listed."),
) -> None:
    """List the registered search spaces (built-in and plugin) with their choices and size."""
    from rich.table import Table

    from nas.plugins import load_plugins
    from search_spaces import SPACES

    load_plugins(plugins or [])

    table = Table("space", "families", "choices", "architectures")
    for name, cls in SPACES.items():
        space = cls()
        size = space.size()
        table.add_row(name, ", ".join(cls.families), ", ".join(space.choices()),
                      f"{size:,}" if size is not None else "continuous")
    console().print(table)


@app.command("check-plugin")
def check_plugin(
    plugin: str = typer.Argument(..., help="A plugin file (my_space.py) or module name."),
) -> None:
    """Run the registry contract checks on the spaces, tasks and proxies a plugin registers."""
    from nas.plugin_contract import check_plugin as run_checks
    from nas.plugin_contract import describe

    checks = run_checks(plugin)
    typer.echo(describe(checks))
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def print_front(url: str, study: str, fmt: str = "table", all_trials: bool = False) -> None:
    """Print the Pareto front (or best trial) of ``study``."""
    from nas.store import load_trials, pareto_front, read_engine, study_info

    engine = read_engine(url)
    info = study_info(engine, study)
    objectives, directions = info["objectives"], info["directions"]
    trials = load_trials(engine, study)
    if all_trials:
        rows = trials[trials.state == "COMPLETE"]
    else:
        rows = pareto_front(trials, objectives, directions)
    columns = ["number", *objectives, "fidelity", "arch"]
    rows = rows[[c for c in columns if c in rows.columns]]
    if fmt == "json":
        records = rows.to_dict(orient="records")
        for r in records:
            if isinstance(r.get("arch"), str):
                r["arch"] = json.loads(r["arch"])
        typer.echo(json.dumps(records, indent=2, default=str))
        return
    if fmt == "csv":
        typer.echo(rows.to_csv(index=False), nl=False)
        return
    from rich.table import Table

    title = "Pareto front" if len(objectives) > 1 and not all_trials else (
        "complete trials" if all_trials else "best trial")
    table = Table(*[c for c in columns if c in rows.columns],
                  title=f"{study}: {title} ({len(rows)} of {int((trials.state == 'COMPLETE').sum())} complete)")
    for r in rows.itertuples(index=False):
        table.add_row(*(_cell(v) for v in r))
    console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and value.startswith("{"):
        arch = json.loads(value)
        return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in arch.items())
    return str(value)


def _objectives(row: Any) -> list[str]:
    objectives = getattr(row, "objectives", None)
    if isinstance(objectives, list):
        return objectives
    return [f"value_{i}" for i in range(len(row.directions))]
