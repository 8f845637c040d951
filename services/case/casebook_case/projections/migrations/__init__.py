"""The read model's schema history: Alembic migrations shipped inside the package (plain
Python modules, so they install with it), run by the service itself at every start.

`upgrade(connection)` brings the projection tables to the newest revision inside the
caller's transaction. Its version table has a name of its own (VERSION_TABLE), so it cannot
meet another application's Alembic in a shared database. How to add a revision: README,
"Schema management".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import column, inspect, select, table

VERSION_TABLE = "casebook_proj_alembic_version"
# The newest revision in versions/. Kept here so that the check at every start is two
# small queries and no import of Alembic (which costs about 0.1 s of every process start);
# tests/read_side/test_migrations.py fails when it is not the scripts' head.
HEAD = "0001"
HERE = Path(__file__).resolve().parent

_versions = table(VERSION_TABLE, column("version_num"))


def config(connection: Any = None) -> Any:
    """An Alembic configuration built in code (no alembic.ini): the scripts are this
    package; env.py migrates `connection` when one is given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current(connection: Any) -> set[str]:
    """The revisions the database is at: empty before the first upgrade."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.execute(select(_versions.c.version_num)).scalars())


def upgrade(connection: Any) -> None:
    """Apply what is missing, in the caller's transaction (the caller holds the schema
    lock). A store made before migrations existed has the tables of revision 0001 but no
    version table: 0001 creates only what is missing, so it is adopted as it is."""
    if current(connection) == {HEAD}:
        return
    from alembic import command

    command.upgrade(config(connection), "head")
