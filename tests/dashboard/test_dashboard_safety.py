"""The dashboard can watch a running search safely: it never imports torch and cannot write."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import uuid

import optuna
import pytest
import sqlalchemy as sa

from nas.store import open_storage, sqlite_path

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every page, rendered in a fresh interpreter; then: was torch (or anything built on it) loaded?
_RENDER_EVERY_PAGE = textwrap.dedent("""
    import importlib, pkgutil, sys
    import dashboard
    for module in pkgutil.iter_modules(dashboard.__path__):
        importlib.import_module(f"dashboard.{module.name}")
    import nas.cli._dashboard
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_file(sys.argv[2], default_timeout=120)
    app.session_state["storage"] = sys.argv[1]
    for page in ("studies", "study", "architecture", "fidelity", "compare"):
        app.switch_page(f"views/{page}.py")
        app.query_params["study"] = "nb201-two"
        app.run()
        assert not app.exception, (page, app.exception)
    for view in ("Hypervolume", "History", "Choices", "Importance", "Trials"):
        app.switch_page("views/study.py")
        app.run()
        app.radio(key="study_view").set_value(view).run()
        assert not app.exception, (view, app.exception)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in
                   ("torch", "torch_geometric", "torchvision", "search_spaces", "supernets",
                    "proxies"))
    print("HEAVY:" + ",".join(heavy))
""")


def test_dashboard_modules_and_pages_never_import_torch(dashboard_store):
    app = os.path.join(REPO_ROOT, "dashboard", "app.py")
    done = subprocess.run([sys.executable, "-c", _RENDER_EVERY_PAGE, dashboard_store, app],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": REPO_ROOT})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HEAVY:\n" in done.stdout, done.stdout


def test_dashboard_engine_refuses_every_write(dashboard_store, open_page):
    from dashboard._data import engine_or_stop

    path = sqlite_path(dashboard_store)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    engine = engine_or_stop(dashboard_store)
    writes = [
        "UPDATE trials SET state = 'FAIL'",
        "DELETE FROM trial_values",
        "INSERT INTO studies (study_name) VALUES ('intruder')",
        "CREATE TABLE intruder (x INTEGER)",
    ]
    for statement in writes:
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            with engine.begin() as conn:
                conn.execute(sa.text(statement))
    # Browsing every page leaves the file byte for byte as it was.
    for page in ("studies", "study", "architecture", "fidelity", "compare"):
        assert not open_page(dashboard_store, page, study="nb201-two").exception
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.postgres
def test_dashboard_engine_is_read_only_on_postgresql():
    url = os.environ.get("NAS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("NAS_TEST_POSTGRES_URL is unset: run through `make test` or .ci/with-postgres.sh")
    from dashboard._data import engine_or_stop

    name = f"dashboard-readonly-{uuid.uuid4().hex[:8]}"
    optuna.create_study(storage=open_storage(url), study_name=name)
    engine = engine_or_stop(url)
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM studies WHERE study_name = :n"), {"n": name})
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT COUNT(*) FROM studies WHERE study_name = :n"),
                             {"n": name}).scalar_one()
    assert found == 1
