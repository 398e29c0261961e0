"""``nas dashboard``: loopback by default, a warning for other hosts, up even without a storage."""

from __future__ import annotations

import socket
from pathlib import Path


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_serves_on_loopback_only_and_stays_up_without_a_storage(serve_dashboard, tmp_path):
    base, server = serve_dashboard(f"sqlite:///{tmp_path / 'not-yet.db'}")
    port = int(base.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
    assert server.poll() is None
    assert not (tmp_path / "not-yet.db").exists()


def test_other_host_warns_and_an_unusable_address_is_one_line(nas_cli):
    done = nas_cli("dashboard", "--host", "192.0.2.1", "--port", "8599", timeout=60)
    assert done.returncode != 0
    assert "warning: serving on 192.0.2.1" in done.stderr
    assert "anyone who can reach this address" in done.stderr
    assert "error: cannot serve on 192.0.2.1:8599" in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_a_one_line_error(nas_cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = nas_cli("dashboard", "--port", str(port), timeout=60)
    assert done.returncode != 0
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr
    assert "warning" not in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_storage_url_is_a_one_line_error(nas_cli):
    done = nas_cli("dashboard", "--storage", "mysql://x/y", timeout=60)
    assert done.returncode != 0
    assert "storage scheme 'mysql' is not supported" in done.stderr
    assert "Traceback" not in done.stderr
