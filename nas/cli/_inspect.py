"""``nas list``, ``nas show`` and ``nas spaces``: reading studies and spaces.

Every command here takes ``--format table|json|csv`` (:mod:`nas.cli._output`).
Tables show each metric in its display unit with the unit in the header
(accuracy in %, params in millions, FLOPs in MFLOPs, latency in ms); JSON and
CSV carry the store's units (accuracy as a fraction), rounded to what was measured.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from nas.cli._app import STORAGE_HELP, app
from nas.cli._output import FORMAT_HELP, Format, print_csv, print_json, print_table
from nas.units import metric_unit

#: trial attrs that are metrics but not objectives, shown after the objectives in this order
_FIRST_METRICS = ("test_accuracy", "params", "flops", "latency_ms", "predicted_latency",
                  "peak_memory_mb")


@app.command("list")
def list_command(
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
) -> None:
    """List the studies in the storage with their trial counts.

    `failed` counts trials whose evaluation failed; trials cut by Ctrl-C or a stopped
    worker are `interrupted` (retried first when the search resumes), not failed.
    """
    from nas.store import list_studies, read_engine

    studies = list_studies(read_engine(storage))
    records = [_study_record(row) for row in studies.to_dict(orient="records")]
    if fmt == Format.json:
        print_json(records)
        return
    if fmt == Format.csv:
        print_csv(records, columns=list(_STUDY_COLUMNS))
        return
    if not records:
        from nas.cli._app import console

        console().print("no studies yet: run `nas search STUDY_FILE`")
        return
    rows = [
        [r["study"], r["space"], r["task"], r["sampler"],
         ", ".join(f"{m} ({d[:3]})" for m, d in zip(r["objectives"], r["directions"])),
         str(r["complete"]), str(r["running"]), str(r["failed"]), str(r["interrupted"]),
         r["last_update"] or ""]
        for r in records
    ]
    print_table(["study", "space", "task", "sampler", "objectives", "complete", "running",
                 "failed", "interrupted", "last update (UTC)"], rows, right=(5, 6, 7, 8))


_STUDY_COLUMNS = ("study", "space", "task", "sampler", "evaluator", "objectives", "directions",
                  "n_trials", "complete", "running", "failed", "interrupted", "pruned",
                  "waiting", "last_update")


def _study_record(row: dict[str, Any]) -> dict[str, Any]:
    directions = list(row.get("directions") or [])
    objectives = row.get("objectives")
    if not isinstance(objectives, list):
        objectives = [f"value_{i}" for i in range(len(directions))]
    last = row.get("last_update")
    last_text = None if last is None or last != last else str(last)[:19]
    record = {
        "study": row["study_name"],
        "space": _text(row.get("space")),
        "task": _text(row.get("task")),
        "sampler": _text(row.get("sampler")),
        "evaluator": _text(row.get("evaluator")),
        "objectives": objectives,
        "directions": directions,
        "n_trials": row.get("n_trials") if row.get("n_trials") == row.get("n_trials") else None,
        "complete": int(row.get("complete", 0)),
        "running": int(row.get("running", 0)),
        "failed": int(row.get("fail", 0)),
        "interrupted": int(row.get("interrupted", 0)),
        "pruned": int(row.get("pruned", 0)),
        "waiting": int(row.get("waiting", 0)),
        "last_update": last_text,
    }
    return record


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)


@app.command()
def show(
    study: str = typer.Argument(..., help="Study name (see `nas list`)."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    all_trials: bool = typer.Option(False, "--all", help="All complete trials, not only the best."),
) -> None:
    """Show a study's best trial (one objective) or Pareto front (several).

    One row per trial: its objectives, the other metrics it measured (test accuracy,
    params, FLOPs, latency; json and csv carry every metric), its fidelity and its
    architecture (one CSV column per choice).
    """
    from nas.store import resolve_url

    print_front(resolve_url(storage), study, fmt=fmt.value, all_trials=all_trials)


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
    """Print the Pareto front (or best trial, or every complete trial) of ``study``."""
    from nas.store import WARM_START_ATTR, load_trials, pareto_front, read_engine, study_info

    engine = read_engine(url)
    info = study_info(engine, study)
    objectives, directions = list(info["objectives"]), info["directions"]
    trials = load_trials(engine, study)
    n_complete = int((trials.state == "COMPLETE").sum()) if len(trials) else 0
    if all_trials:
        rows = trials[trials.state == "COMPLETE"]
    else:
        rows = pareto_front(trials, objectives, directions) if len(trials) else trials
    records = [_trial_record(r, objectives) for r in rows.to_dict(orient="records")]
    metrics = _metric_columns(records, objectives)
    if fmt == "json":
        print_json(records)
        return
    choices = list(dict.fromkeys(c for r in records for c in r["arch"]))
    if fmt == "csv":
        columns = ["number", *metrics, "fidelity", *(f"arch.{c}" for c in choices)]
        print_csv(records, columns=columns)
        return
    title = "Pareto front" if len(objectives) > 1 and not all_trials else (
        "complete trials" if all_trials else "best trial")
    # People get the objectives and the usual costs; scripts (json, csv) get every metric.
    metrics = [m for m in metrics if m in objectives or m in _FIRST_METRICS]
    headers = ["number", *(metric_unit(m).header(m) for m in metrics), "fidelity", "arch"]
    table_rows = [
        [str(r["number"]), *(metric_unit(m).format(r.get(m)) for m in metrics),
         str(r.get("fidelity") or ""), _arch_cell(r["arch"])]
        for r in records
    ]
    warm = info.get(WARM_START_ATTR) or {}
    print_table(headers, table_rows,
                title=f"{study}: {title} ({len(records)} of {n_complete} complete)"
                + "".join(f"; warm-started from {n} ({k} trials)" for n, k in warm.items()),
                right=tuple(range(len(metrics) + 1)))


def _trial_record(row: dict[str, Any], objectives: list[str]) -> dict[str, Any]:
    """One trial as ``{number, <objectives>, <other metrics>, fidelity, arch}``, store units."""
    measured = _json_attr(row.get("metrics")) or {}
    record: dict[str, Any] = {"number": int(row["number"])}
    for name in objectives:
        record[name] = row.get(name)
    for name, value in measured.items():
        if name not in record and value is not None:
            record[name] = value
    record["fidelity"] = row.get("fidelity") if row.get("fidelity") == row.get("fidelity") else None
    arch = _json_attr(row.get("arch"))
    if not isinstance(arch, dict):
        arch = {k[len("param_"):]: v for k, v in row.items()
                if k.startswith("param_") and v == v and v is not None}
    record["arch"] = arch
    return record


def _metric_columns(records: list[dict[str, Any]], objectives: list[str]) -> list[str]:
    found = list(dict.fromkeys(k for r in records for k in r
                               if k not in ("number", "fidelity", "arch")))
    rest = [m for m in found if m not in objectives]
    ordered = [m for m in _FIRST_METRICS if m in rest]
    return [*objectives, *ordered, *(m for m in rest if m not in ordered)]


def _json_attr(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("{", "[")):
        return json.loads(value)
    return value if isinstance(value, (dict, list)) else None


def _arch_cell(arch: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in arch.items())


@app.command()
def spaces(
    name: str = typer.Argument(None, help="One space: show each choice's values and default."),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    plugins: list[str] = typer.Option(
        None, "--plugin", "-p",
        help="A plugin file or module whose spaces to list too (repeatable); "
             "installed `nas.plugins` entry points are always listed."),
) -> None:
    """List the registered search spaces (built-in and plugin), or one space's choices
    with their values and defaults."""
    from nas.plugins import load_plugins
    from search_spaces import SPACES

    load_plugins(plugins or [])

    if name is not None:
        _print_space(SPACES.get(name)(), fmt)
        return
    records = []
    for space_name, cls in SPACES.items():
        space = cls()
        size = space.size()
        records.append({"space": space_name, "families": list(cls.families),
                        "choices": len(space.choices()), "architectures": size,
                        "description": _summary(cls)})
    if fmt == Format.json:
        print_json(records)
    elif fmt == Format.csv:
        print_csv(records)
    else:
        print_table(
            ["space", "families", "choices", "architectures", "description"],
            [[r["space"], ", ".join(r["families"]), str(r["choices"]),
              f"{r['architectures']:,}" if r["architectures"] is not None else "continuous",
              r["description"]] for r in records],
            right=(2, 3),
        )
        from nas.cli._app import console

        console().print("`nas spaces NAME` shows one space's choices, values and defaults.")


def _print_space(space: Any, fmt: Format) -> None:
    choices = {name: _choice_record(choice) for name, choice in space.choices().items()}
    size = space.size()
    if fmt == Format.json:
        print_json({"space": space.name, "families": list(space.families),
                    "architectures": size, "choices": choices})
        return
    if fmt == Format.csv:
        print_csv([{"choice": n, **{k: v for k, v in c.items()}} for n, c in choices.items()],
                  columns=["choice", "kind", "values", "low", "high", "step", "log", "default"])
        return
    rows = [[n, c["kind"], _values_text(c), str(c["default"])] for n, c in choices.items()]
    size_text = f"{size:,} architectures" if size is not None else "continuous"
    print_table(["choice", "kind", "values", "default"], rows,
                title=f"space '{space.name}' ({', '.join(space.families)}): {size_text}")


def _choice_record(choice: Any) -> dict[str, Any]:
    from search_spaces import Categorical, IntRange

    if isinstance(choice, Categorical):
        return {"kind": "categorical", "values": list(choice.values), "default": choice.default}
    kind = "int" if isinstance(choice, IntRange) else "float"
    record = {"kind": kind, "low": choice.low, "high": choice.high, "log": choice.log,
              "default": choice.default}
    if isinstance(choice, IntRange):
        record["step"] = choice.step
    return record


def _values_text(choice: dict[str, Any]) -> str:
    if choice["kind"] == "categorical":
        return ", ".join(str(v) for v in choice["values"])
    step = f" step {choice['step']}" if choice.get("step", 1) != 1 else ""
    return f"{choice['low']} to {choice['high']}{step}" + (" (log)" if choice["log"] else "")


def _summary(cls: type) -> str:
    """The first sentence of the class docstring."""
    paragraph = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")
