"""``nas dashboard``: the Streamlit dashboard on a study storage, read-only, loopback by default."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import typer

from nas.cli._app import STORAGE_HELP, app, err_console
from nas.errors import ConfigError

__all__ = ["dashboard", "streamlit_command"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
# dashboard/ is a top-level package of the same distribution; its app is run as a script.
APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@app.command()
def dashboard(
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to serve on."),
    host: str = typer.Option(DEFAULT_HOST, "--host",
                             help="Address to bind. Anything but loopback exposes your studies."),
) -> None:
    """Open the dashboard (Pareto fronts, hypervolume, architectures, fidelity, export).

    It opens the storage read-only and never imports torch, so it is safe to
    run next to a search; it starts even before the storage exists.
    """
    from nas.store import redact, resolve_url

    url = resolve_url(storage)
    if not _is_loopback(host):
        err_console().print(
            f"[yellow]warning:[/] serving on {host}: anyone who can reach this address can read "
            "every study in the storage (there is no login). Use --host 127.0.0.1 to keep it local."
        )
    _check_bindable(host, port)
    env = {**os.environ, "NAS_DASHBOARD_STORAGE": url}
    err_console().print(f"dashboard for {redact(url)} on http://{_url_host(host)}:{port}")
    command = streamlit_command(host, port)
    if os.name == "posix":
        # Become the server, so Ctrl-C and a supervisor's SIGTERM reach it directly
        # (a child process would outlive a killed parent).
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command, env)
    try:
        completed = subprocess.run(command, env=env, check=False)
    except KeyboardInterrupt:
        return
    raise typer.Exit(completed.returncode)


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no telemetry, no file watcher."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]


def _check_bindable(host: str, port: int) -> None:
    """A one-line error now for a port in use or an address this machine lacks.

    Streamlit would otherwise die with a traceback after printing its banner.
    """
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
