"""Schema set-up at start, one process at a time: replicas starting together on one
PostgreSQL database would otherwise create the same tables into each other (a CREATE
TABLE racing another fails even when it checked first). For both services."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text

# One key for every schema change casebook makes at start (the case service's events,
# snapshots, access log and read-model migrations): they are quick, and one key cannot
# deadlock against another.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('casebook_schema'))"


def lock_schema(connection: Any) -> None:
    """Until `connection`'s transaction ends, no other process changes the schema. SQLite
    has one writing process, so nothing to do there."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(_LOCK))


@contextlib.contextmanager
def schema_locked(engine: Any) -> Iterator[None]:
    """Hold the schema lock on a connection of its own while the body changes the schema
    through others (DDL committed in the body is visible to the next holder)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.begin() as connection:
        lock_schema(connection)
        yield
