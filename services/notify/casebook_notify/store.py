"""The notify service's own database: what it follows, what falls due, what it sent, what it
raised. Every change derived from a case event is written in one transaction with the log
position it came from, so a crash can neither skip nor repeat an effect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from casebook_common.schema import lock_schema

metadata = MetaData()

position = Table(
    "notify_position",
    metadata,
    Column("follower", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# No contact details are kept here: the scheduler reads them from the case (GetCase) at
# the moment it sends, so this database holds no personal data.

# One row per promise instalment: when to ask the case whether the promise is broken.
deadlines = Table(
    "notify_deadlines",
    metadata,
    Column("deadline_id", String(80), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("promise_id", String(36), nullable=False),
    Column("due_time", DateTime(timezone=True), nullable=False),
    Column("fire_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # PENDING | DONE
    Column("outcome", String(64), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    # The scheduler reads "pending, due by now, earliest first": cost per tick follows the
    # number due, not the number pending.
    Index("notify_deadlines_due", "state", "fire_at"),
    Index("notify_deadlines_promise", "promise_id"),
)

reminders = Table(
    "notify_reminders",
    metadata,
    Column("reminder_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("promise_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("due_time", DateTime(timezone=True), nullable=False),
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # SCHEDULED SENDING SENT SKIPPED FAILED
    Column("reason", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", DateTime(timezone=True)),
    Column("logged_on_case", Boolean, nullable=False, default=False),
    Index("notify_reminders_due", "state", "scheduled_for"),
    Index("notify_reminders_case", "case_id"),
    Index("notify_reminders_promise", "promise_id"),
)

alerts = Table(
    "notify_alerts",
    metadata,
    Column(
        "sequence",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("alert_id", String(36), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("promise_id", String(36), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("missed_due_time", DateTime(timezone=True)),
    Column("unpaid_minor", BigInteger, nullable=False, default=0),
    Column("acknowledged_by", String(128), nullable=False, default=""),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("webhook_state", String(16), nullable=False, default="NONE"),  # NONE PENDING SENT FAILED
    Column("webhook_attempts", Integer, nullable=False, default=0),
    Index("notify_alerts_case", "case_id"),
    Index("notify_alerts_webhook", "webhook_state"),
)


class NotifyStore:
    def __init__(self, db_url: str) -> None:
        if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
            Path(db_url.removeprefix("sqlite:///").split("?")[0]).parent.mkdir(
                parents=True, exist_ok=True
            )
        self.engine: Engine = create_engine(
            db_url, connect_args={"timeout": 30} if db_url.startswith("sqlite") else {}
        )
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # Idempotent (only what is missing), and one process at a time: two notify
        # processes starting together on an empty database would collide otherwise.
        with self.engine.begin() as connection:
            lock_schema(connection)
            metadata.create_all(connection)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def position(self, follower: str) -> int:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(position.c.position).where(position.c.follower == follower)
            ).scalar()
        return int(value or 0)

    @staticmethod
    def save_position(connection: Connection, follower: str, value: int) -> None:
        changed = connection.execute(
            update(position).where(position.c.follower == follower).values(position=value)
        ).rowcount
        if not changed:
            connection.execute(position.insert().values(follower=follower, position=value))

    def rows(self, query: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
