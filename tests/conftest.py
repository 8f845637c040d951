"""Fixtures: every API test runs against SQLite and against the PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from casebook_common.clock import ManualClock
from tests.support import T0, InProcessServer, fresh_postgres_database, postgres_available

_PG_OK: bool | None = None


def _require_postgres() -> None:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = postgres_available()
    if not _PG_OK:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/case.db"
    else:
        _require_postgres()
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def server(db_url: str, clock: ManualClock) -> Iterator[InProcessServer]:
    running = InProcessServer(db_url, clock)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def stub(server: InProcessServer):
    return server.stub


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs():
    # In-process servers log every call; tests that check logs run a real process.
    from casebook_common.logging import configure_logging

    configure_logging("test", fmt="console", level="WARNING")
