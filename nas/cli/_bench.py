"""``nas bench …``: the sub-command group for benchmarks that measure and print figures.

Benchmark modules add their command to :data:`bench_app`::

    from nas.cli._bench import bench_app

    @bench_app.command("proxies")
    def bench_proxies(...): ...
"""

from __future__ import annotations

import typer

from nas.cli._app import app

bench_app = typer.Typer(
    help="Benchmarks that measure ranking quality, search efficiency and speed.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")
