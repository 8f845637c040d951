"""Fixtures of the security tests: one PKI and token issuer per session, and a case service
with TLS, mutual TLS and bearer tokens on (SQLite; the table test runs both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebook_common.clock import ManualClock
from casebook_common.security import SUPERVISOR
from tests.security.calls import Callers
from tests.security.pki import Pki
from tests.support import T0, InProcessServer


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The case service on SQLite with mutual TLS and tokens; `stub` acts as a supervisor."""
    directory = tmp_path_factory.mktemp("secured")
    server = InProcessServer(
        f"sqlite:///{directory}/case.db",
        ManualClock(T0),
        security=pki.security(),
        credentials=pki.credentials(),
        token=pki.token("supervisor-1", SUPERVISOR),
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def callers(pki: Pki, secured: InProcessServer) -> Iterator[Callers]:
    made = Callers(pki, secured.port)
    try:
        yield made
    finally:
        made.close()
