"""The read model's schema is managed by Alembic migrations run at start: on an empty
database they make exactly the tables the code describes, at every later start they change
nothing, replicas upgrading together both succeed, and a store made before migrations is
adopted with its rows."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, insert, inspect, select, table, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from casebook_case.projections import migrations, tables

WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = create_engine(db_url, poolclass=NullPool)
    yield made
    made.dispose()


def start(engine: Engine) -> None:
    """What the projector does at every start."""
    with Session(engine) as session, session.begin():
        tables.create_tables(session)


def differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match tables.metadata."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": migrations.VERSION_TABLE}
        )
        return compare_metadata(context, tables.metadata)


def version_rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT version_num FROM {migrations.VERSION_TABLE}"))
        return [row[0] for row in rows]


def pre_migration_store(engine: Engine) -> None:
    """A store as the service made it before migrations: revision 0001's tables, made by
    create_all, and no version table."""
    with engine.begin() as connection:
        command.upgrade(migrations.config(connection), "0001")
        connection.execute(text(f"DROP TABLE {migrations.VERSION_TABLE}"))


def test_head_names_the_newest_revision_in_the_scripts():
    # A new revision must move migrations.HEAD, or starts would skip it.
    assert ScriptDirectory.from_config(migrations.config()).get_heads() == [migrations.HEAD]


def test_upgrading_an_empty_database_makes_exactly_the_tables_the_code_describes(engine):
    start(engine)
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) == {
        *tables.metadata.tables,
        migrations.VERSION_TABLE,
    }
    assert version_rows(engine) == [migrations.HEAD]


def test_every_later_start_reads_the_version_and_writes_nothing(engine):
    start(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    start(engine)
    start(engine)
    assert statements  # it did look
    assert [s for s in statements if WRITES.match(s)] == []
    assert version_rows(engine) == [migrations.HEAD]
    assert differences(engine) == []


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_replicas_upgrading_one_postgres_database_at_once_all_succeed(engine):
    together = threading.Barrier(4)
    done: list[str] = []

    def replica() -> None:
        own = create_engine(engine.url, poolclass=NullPool)
        together.wait(30)
        try:
            start(own)
            done.append("upgraded")
        finally:
            own.dispose()

    # Daemon threads joined with a limit: racing upgrades can wait on each other for ever.
    replicas = [threading.Thread(target=replica, daemon=True) for _ in range(4)]
    for thread in replicas:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in replicas:
        thread.join(max(deadline - time.monotonic(), 0))
    assert done == ["upgraded"] * 4
    assert version_rows(engine) == [migrations.HEAD]
    assert differences(engine) == []


def test_a_store_made_before_migrations_is_adopted_with_its_rows(engine):
    pre_migration_store(engine)
    with engine.begin() as connection:
        connection.execute(insert(tables.position).values(projector="cases", position=42))
    start(engine)
    assert version_rows(engine) == [migrations.HEAD]
    assert differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(select(tables.position.c.position)).scalar() == 42


def test_a_store_half_made_by_an_interrupted_first_start_is_completed(engine):
    pre_migration_store(engine)
    with engine.begin() as connection:
        for name in ("casebook_proj_holds", "casebook_proj_contacts"):
            connection.execute(text(f"DROP TABLE {name}"))
    start(engine)
    assert differences(engine) == []
    with engine.connect() as connection:
        holds = table("casebook_proj_holds")
        assert connection.execute(select(func.count()).select_from(holds)).scalar() == 0


def test_the_revision_tool_writes_nothing_while_tables_and_migrations_agree(capsys):
    from casebook_case.projections.migrations.__main__ import main

    before = sorted(p.name for p in (migrations.HERE / "versions").iterdir())
    assert main(["nothing to change"]) == 1
    assert "nothing to write" in capsys.readouterr().out
    assert sorted(p.name for p in (migrations.HERE / "versions").iterdir()) == before
