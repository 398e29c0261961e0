"""``nas latency calibrate`` and ``nas latency predict``: the per-device latency lookup table."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nas.cli._app import app, console

latency_app = typer.Typer(
    help="Per-device layer-latency tables (OFA/HAT style) behind the `predicted_latency` objective.",
    no_args_is_help=True,
)
app.add_typer(latency_app, name="latency")

_DEFAULT_TASK = {"image": "cifar10-subset", "sequence": "tinyshakespeare"}


@latency_app.command("calibrate")
def calibrate_command(
    space: str = typer.Option(None, "--space", help="Space to calibrate: mobilenet, vit or charlm."),
    task: str = typer.Option(None, "--task", help="Task whose input shape to use (default: by family)."),
    study: Path = typer.Option(None, "--study", help="Take space, task and task params from a study file."),
    batch_size: int = typer.Option(1, "--batch-size", help="Batch size of the measured passes."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N]."),
    threads: int = typer.Option(1, "--threads", help="Torch threads while measuring."),
    repeats: int = typer.Option(30, "--repeats", help="Timed passes per unit (median kept)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Table folder (default $NAS_CACHE_DIR or ~/.cache/nas)."),
    force: bool = typer.Option(False, "--force", help="Measure again even when a table is cached."),
) -> None:
    """Measure every layer the space can contain once on this device and cache the table on disk."""
    import time

    from nas.latency.table import calibrate, load_table, table_covers, table_path

    the_space, spec = _space_and_spec(space, task, study, data_dir)
    name = the_space.name
    where = dict(batch_size=batch_size, device=device, threads=threads, cache_dir=cache_dir)
    path = table_path(name, spec, **where)
    cached = None if force else load_table(name, spec, **where)
    if cached is not None and table_covers(cached, the_space, spec):
        console().print(f"cached: {len(cached.units)} units for '{name}' at {path} (--force to remeasure)")
        return
    start = time.perf_counter()
    table = calibrate(the_space, spec, batch_size=batch_size, device=device, threads=threads,
                      repeats=repeats, cache_dir=cache_dir)
    console().print(
        f"calibrated '{name}' on {table.device}: {len(table.units)} units, "
        f"scale {table.scale:.3f}, offset {table.offset_us:.0f} µs, "
        f"{time.perf_counter() - start:.1f} s; saved to {path}"
    )


@latency_app.command("predict")
def predict_command(
    arch: str = typer.Argument(..., help="Architecture as JSON, or 'smallest' / 'largest'."),
    space: str = typer.Option(None, "--space", help="Space of the architecture."),
    task: str = typer.Option(None, "--task", help="Task whose input shape to use (default: by family)."),
    study: Path = typer.Option(None, "--study", help="Take space, task and task params from a study file."),
    batch_size: int = typer.Option(1, "--batch-size"),
    device: str = typer.Option("cpu", "--device"),
    threads: int = typer.Option(1, "--threads"),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder with the data sets."),
    cache_dir: Path = typer.Option(None, "--cache-dir"),
) -> None:
    """Print the predicted latency (µs) of one architecture from the cached table."""
    from nas.architecture import Architecture
    from nas.errors import ConfigError
    from nas.latency.table import predict_latency

    the_space, spec = _space_and_spec(space, task, study, data_dir)
    if arch in ("smallest", "largest"):
        chosen = getattr(the_space, arch)()
    else:
        try:
            chosen = Architecture(json.loads(arch))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"arch: not a JSON object of choices ({exc})") from None
    chosen = the_space.validate(chosen)
    micros = predict_latency(the_space, chosen, spec, batch_size=batch_size, device=device,
                             threads=threads, cache_dir=cache_dir)
    console().print(f"{micros:.0f}")


def _space_and_spec(space: str | None, task: str | None, study: Path | None,
                    data_dir: Path | None):  # type: ignore[no-untyped-def]
    """The space (with the study's overrides) and the prepared task spec the table is keyed by."""
    from nas.errors import ConfigError
    from nas.latency.table import latency_spaces
    from nas.tasks import create_task
    from search_spaces import SPACES, create_space

    params: dict[str, object] = {}
    overrides: dict[str, object] = {}
    if study is not None:
        from nas.config import load_study_file

        config = load_study_file(study)
        space = space or config.space.name
        task = task or config.task.name
        params = {k: v for k, v in config.task.params.items() if k != "data_dir"}
        if space == config.space.name:
            overrides = dict(config.space.params)
        if data_dir is None and "data_dir" in config.task.params:
            data_dir = Path(str(config.task.params["data_dir"]))
    if not space:
        raise ConfigError("--space: give a space (or --study FILE); supported: "
                          + ", ".join(latency_spaces()))
    if space not in latency_spaces():
        SPACES.get(space)  # an unknown name says which names exist
        raise ConfigError(f"--space: '{space}' has no per-layer latency decomposition; "
                          f"supported: {', '.join(latency_spaces())}")
    family = SPACES.get(space).families[0]
    task = task or _DEFAULT_TASK[family]
    spec = create_task(task, data_dir=data_dir, **params).prepare("cpu")
    if spec.family != family:
        raise ConfigError(f"--task: '{task}' is a {spec.family} task; space '{space}' needs {family}")
    return create_space(space, overrides), spec
