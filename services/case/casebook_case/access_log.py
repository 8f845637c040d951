"""The append-only access log: who read which case, when, how, and with what outcome.

Reads wait until their entry is committed (fail closed: no record, no data), and entries
from concurrent readers share one transaction, so logging costs a read little. The
database itself refuses UPDATE, DELETE and TRUNCATE on the table.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
)

TABLE = "casebook_access_log"
metadata = MetaData()
access_log = Table(
    TABLE,
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("accessed_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("detail", String(256), nullable=False),
    Column("outcome", String(32), nullable=False),
    Index("casebook_access_log_case", "case_id", "id"),
)

_SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_GUARDS = [
    "SELECT pg_advisory_xact_lock(hashtext('casebook_access_log_guard'))",
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION '{TABLE} is append-only'; END $$""",
    f"""CREATE OR REPLACE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""",
    f"""CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()""",
]


@dataclass(frozen=True)
class Reader:
    """Who reads, under which request, through what (GetCase, export, ...)."""

    actor: str
    via: str
    request_id: str = ""


@dataclass(frozen=True)
class AccessEntry:
    accessed_at: datetime
    actor: str
    action: str
    case_id: str
    request_id: str
    detail: str
    outcome: str

    def __post_init__(self) -> None:
        # Column widths: a long value is cut, never refused (the read must still be logged).
        for name, width in (
            ("actor", 128),
            ("action", 64),
            ("case_id", 64),
            ("request_id", 128),
            ("detail", 256),
            ("outcome", 32),
        ):
            object.__setattr__(self, name, str(getattr(self, name))[:width])


class AccessLogUnavailable(RuntimeError):
    """The entry could not be written, so the read must not be answered."""


class AccessLog:
    BATCH = 500
    TIMEOUT_SECONDS = 30.0

    def __init__(self, datastore: Any) -> None:
        # The event store's datastore: on SQLite its transactions take the same in-process
        # write lock as event appends, so the two never wait on SQLite's busy timeout.
        self.datastore = datastore
        self.engine = datastore.engine
        self._queue: queue.SimpleQueue[tuple[AccessEntry, Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._create()

    def _create(self) -> None:
        with self.engine.begin() as connection:
            metadata.create_all(connection, checkfirst=True)
            guards = _POSTGRES_GUARDS if self.engine.dialect.name == "postgresql" else []
            if self.engine.dialect.name == "sqlite":
                guards = _SQLITE_GUARDS
            for statement in guards:
                connection.execute(text(statement))

    def record(self, entry: AccessEntry) -> None:
        """Returns once the entry is committed; raises AccessLogUnavailable otherwise."""
        done: Future[None] = Future()
        self._ensure_writer()
        self._queue.put((entry, done))
        try:
            done.result(timeout=self.TIMEOUT_SECONDS)
        except Exception as error:
            raise AccessLogUnavailable("the access log could not be written") from error

    def record_all(self, entries: list[AccessEntry]) -> None:
        """Several entries (one read of many cases), queued together so that they share a
        commit; returns once all are committed, raises AccessLogUnavailable otherwise."""
        waiting: list[Future[None]] = []
        self._ensure_writer()
        for entry in entries:
            done: Future[None] = Future()
            self._queue.put((entry, done))
            waiting.append(done)
        try:
            for done in waiting:
                done.result(timeout=self.TIMEOUT_SECONDS)
        except Exception as error:
            raise AccessLogUnavailable("the access log could not be written") from error

    def entries(self, case_id: str | None = None, limit: int = 1000) -> list[AccessEntry]:
        query = select(access_log).order_by(access_log.c.id).limit(limit)
        if case_id is not None:
            query = query.where(access_log.c.case_id == case_id)
        with self.datastore.transaction(commit=False) as session:
            return [
                AccessEntry(
                    accessed_at=row.accessed_at,
                    actor=row.actor,
                    action=row.action,
                    case_id=row.case_id,
                    request_id=row.request_id,
                    detail=row.detail,
                    outcome=row.outcome,
                )
                for row in session.execute(query)
            ]

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=self.TIMEOUT_SECONDS)
            self._writer = None

    def _ensure_writer(self) -> None:
        with self._start_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_batches, name="casebook-access-log", daemon=True
                )
                self._writer.start()

    def _write_batches(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                with self.datastore.transaction(commit=True) as session:
                    session.execute(
                        insert(access_log), [dataclasses.asdict(entry) for entry, _ in batch]
                    )
            except Exception as error:
                for _, done in batch:
                    done.set_exception(error)
            else:
                for _, done in batch:
                    done.set_result(None)
