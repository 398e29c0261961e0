"""Writers' PostgreSQL connections survive the server dropping them while they sit in the pool.

Against the real server (``$NAS_TEST_POSTGRES_URL``, set by ``bash .ci/with-postgres.sh``):
a pooled connection is terminated server-side, as a server restart or an idle
timeout does, and the next use of the storage must work on a new connection.
"""

from __future__ import annotations

import os
import time
import uuid

import optuna
import pytest
import sqlalchemy as sa

from nas.store import open_storage, write_engine
from nas.store._connect import PING_AFTER_IDLE_S


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("NAS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("NAS_TEST_POSTGRES_URL is unset (bash .ci/with-postgres.sh)")
    return url


def pooled_pids(engine: sa.Engine) -> set[int]:
    """Server process ids of the connections now idle in the engine's pool."""
    conns = [engine.connect() for _ in range(max(1, engine.pool.checkedin()))]
    try:
        return {int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()) for c in conns}
    finally:
        for c in conns:
            c.close()


def terminate(url: str, pids: set[int]) -> None:
    killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        for pid in pids:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    killer.dispose()


@pytest.mark.parametrize("opener", ["open_storage", "write_engine"])
def test_a_pooled_connection_dropped_by_the_server_is_replaced(postgres_url, opener):
    if opener == "open_storage":
        storage = open_storage(postgres_url)
        engine = storage.engine
    else:
        engine = write_engine(postgres_url)
    pids = pooled_pids(engine)
    terminate(postgres_url, pids)
    time.sleep(PING_AFTER_IDLE_S + 0.2)  # idle long enough to be checked before use
    if opener == "open_storage":
        name = f"pool-{uuid.uuid4().hex[:8]}"
        study = optuna.create_study(storage=storage, study_name=name)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        assert len(study.trials) == 2
    assert not pooled_pids(engine) & pids
    engine.dispose()
