"""Which notify process is active: several may share one notify database and all serve the
NotifyService API, but only the holder of the leader lock follows the case events and runs
the scheduler.

PostgreSQL: a session-level advisory lock, `pg_try_advisory_lock`, held on a connection of
its own (never one from the store's pool, which could recycle it and free the lock). A
process killed in any way ends its session, and PostgreSQL frees the lock with it; a standby
asks again every CASEBOOK_NOTIFY_STANDBY_POLL, and the leader checks its lock connection as
often, stepping down at once (it may no longer hold the lock) when the check fails.

Fencing. A leader whose lock connection has died keeps its pool connections, so for up to a
poll it could go on writing while a new leader starts. So each leadership term takes a new
epoch (`notify_leadership`, bumped by the new leader right after it gets the lock), and every
transaction the follower and scheduler commit begins by reading that row FOR SHARE and
comparing the epoch with its own (`FencedStore`): the new leader's bump waits for any such
transaction still open, and after it every transaction of the old leader fails
(`LeadershipLost`) and rolls back. The new leader then fails what the old one left SENDING
(`OUTCOME_UNKNOWN_AFTER_RESTART`) and reads the follower's position, both as finally
committed. (A fenced transaction left idle by a process cut off mid-way is ended by
PostgreSQL after FENCED_IDLE_LIMIT, so the bump never waits on it for long.)

What the fence cannot reach are the calls the old leader had already begun to other
systems: a reminder is marked SENDING (fenced) before it is sent, so it goes out at
most once; MarkPromiseBroken and LogContact carry request ids the case service deduplicates,
and alerts are unique per PromiseBroken event; an alert POSTed to the webhook just before
the end of a term, but not yet recorded as posted, is POSTed again by the next leader, with
the same Idempotency-Key (the alert id), exactly as after a crash of a single process.

SQLite (the laptop default): `fcntl.flock` on a lock file next to the database; a second
process on the same file stands by the same way and takes over when the first one exits. A
flock cannot be lost while its process lives, so no epoch is needed there (only a lock file
removed or replaced under a running leader is noticed, at the next poll or transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import Connection, make_url

from casebook_common.schema import lock_schema
from casebook_notify.store import NotifyStore

log = structlog.get_logger("casebook.notify.leader")

# The leader lock's key (two int4): a namespace for casebook, then the purpose. Advisory
# locks are per database, so notify services on different databases never meet.
LOCK_NAMESPACE = 0x63617365  # "case"
LEADER_KEY = 1
ROLE = "notify"
# A fenced transaction idle this long (seconds) is ended by PostgreSQL: its process has been
# cut off, and a new leader's epoch bump must not wait on it for ever.
FENCED_IDLE_LIMIT = 15.0

# The leadership epoch: one row, bumped by each new leader (see the module docstring).
leadership_metadata = MetaData()
leadership_epochs = Table(
    "notify_leadership",
    leadership_metadata,
    Column("role", String(32), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", String(128), nullable=False),  # host:pid, for whoever investigates
    Column("since", DateTime(timezone=True), nullable=False),
)


class LeadershipLost(Exception):
    """This process no longer leads: whatever it was about to commit must not be."""


def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


def libpq_conninfo(db_url: str) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://...`) as psycopg's own connection string."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def open_store(db_url: str) -> NotifyStore:
    """The notify store, its tables created if missing. Processes starting together take
    turns (casebook's schema lock on PostgreSQL, a flock on SQLite, where notify too may now
    run a standby): `create_all` checks, then creates, and the second of two concurrent
    CREATE TABLEs of one name fails."""
    if not is_postgres(db_url):
        path = sqlite_path(db_url)
        if path is None:
            return NotifyStore(db_url)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.schema-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # freed when the file is closed
            return NotifyStore(db_url)
    store = NotifyStore(db_url)  # takes the schema lock for its own tables
    with store.engine.begin() as connection:
        lock_schema(connection)
        leadership_metadata.create_all(connection)
    return store


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool:
        """Take the lock if it is free (never waits); True when this process now leads."""
        ...

    async def still_held(self) -> bool:
        """Whether the lock is certainly still ours."""
        ...

    def fence(self, connection: Connection) -> None:
        """Raise LeadershipLost unless this process's term is current (inside `connection`'s
        transaction, so that the answer holds until it commits)."""
        ...

    async def release(self) -> None: ...


class PostgresLeaderLock:
    """`pg_try_advisory_lock` on a dedicated autocommit connection, plus the epoch row."""

    def __init__(
        self, db_url: str, timeout: float = 5.0, idle_limit: float = FENCED_IDLE_LIMIT
    ) -> None:
        self.conninfo = libpq_conninfo(db_url)
        self.timeout = timeout  # the longest any lock call may take before it counts as lost
        self.idle_limit = idle_limit
        self.connection: psycopg.AsyncConnection[Any] | None = None
        self.epoch: int | None = None
        self._unreachable = False

    async def try_acquire(self) -> bool:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose the cancel of a
            # stopping service, and this loop then leads on for ever (casebook_common.waiting).
            async with asyncio.timeout(self.timeout):
                return await self._try_acquire()
        except (psycopg.Error, OSError, TimeoutError) as error:
            if not self._unreachable:  # once per outage, not once per poll
                log.warning("leader_lock_unreachable", error_type=type(error).__name__)
            self._unreachable = True
            await self.release()
            return False

    async def _try_acquire(self) -> bool:
        if self.connection is None or self.connection.closed:
            self.connection = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                connect_timeout=max(int(self.timeout), 2),
                application_name="casebook-notify-leader",
                # Both ends notice a vanished peer in seconds, not after the kernel's
                # two hours: the server frees the lock of a leader that lost its network.
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
                options="-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2"
                " -c tcp_keepalives_count=3 -c tcp_user_timeout=10000",
            )
        self._unreachable = False
        cursor = await self.connection.execute(
            "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (LOCK_NAMESPACE, LEADER_KEY)
        )
        row = await cursor.fetchone()
        if not row or not row[0]:
            return False
        # A new term: waits for the old leader's fenced transactions still open, then makes
        # every later one of them fail.
        cursor = await self.connection.execute(
            "INSERT INTO notify_leadership (role, epoch, holder, since)"
            " VALUES (%s, 1, %s, now())"
            " ON CONFLICT (role) DO UPDATE SET epoch = notify_leadership.epoch + 1,"
            " holder = EXCLUDED.holder, since = EXCLUDED.since"
            " RETURNING epoch",
            (ROLE, holder_name()),
        )
        row = await cursor.fetchone()
        assert row is not None
        self.epoch = int(row[0])
        return True

    async def still_held(self) -> bool:
        if self.connection is None or self.connection.closed or self.epoch is None:
            return False
        try:
            async with asyncio.timeout(self.timeout):
                cursor = await self.connection.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = %s::int4::oid"
                    " AND objid = %s::int4::oid AND objsubid = 2",
                    (LOCK_NAMESPACE, LEADER_KEY),
                )
                row = await cursor.fetchone()
        except (psycopg.Error, OSError, TimeoutError):
            return False
        return bool(row and row[0])

    def fence(self, connection: Connection) -> None:
        mine = self.epoch
        if mine is None:
            raise LeadershipLost("not the leader")
        # FOR SHARE: a new leader's bump waits for this transaction. And PostgreSQL ends it
        # if it sits idle longer than idle_limit (its process cut off mid-transaction), so
        # that the wait is bounded: set_config(..., true) holds for this transaction only.
        current = connection.execute(
            select(
                leadership_epochs.c.epoch,
                func.set_config(
                    "idle_in_transaction_session_timeout", f"{int(self.idle_limit * 1000)}", True
                ),
            )
            .where(leadership_epochs.c.role == ROLE)
            .with_for_update(read=True)
        ).scalar()
        if current != mine:
            raise LeadershipLost(f"term {mine} was superseded by term {current}")

    async def release(self) -> None:
        self.epoch = None
        connection, self.connection = self.connection, None
        if connection is not None:
            # Ending the session frees the lock; nothing to wait for on a dead connection.
            with contextlib.suppress(Exception):
                await connection.close()


class FileLeaderLock:
    """`fcntl.flock` on `<database>.leader-lock` (SQLite): the kernel frees it when the
    process holding it exits, however it exits."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    async def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder_name()}\n".encode())  # who holds it, for whoever looks
        self.fd = fd
        return True

    async def still_held(self) -> bool:
        return self._held()

    def _held(self) -> bool:
        """Ours, and still the file at that path (one removed or replaced would let a second
        process lock a new file)."""
        if self.fd is None:
            return False
        try:
            return os.fstat(self.fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def fence(self, connection: Connection) -> None:
        if not self._held():
            raise LeadershipLost("the leader lock file is no longer ours")

    async def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor frees the flock


class SoleLeader:
    """An in-memory SQLite database belongs to one process: it always leads."""

    held = False

    async def try_acquire(self) -> bool:
        self.held = True
        return True

    async def still_held(self) -> bool:
        return self.held

    def fence(self, connection: Connection) -> None:
        if not self.held:
            raise LeadershipLost("stopped")

    async def release(self) -> None:
        self.held = False


def sqlite_path(db_url: str) -> str | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    path = db_url.removeprefix("sqlite:///").split("?")[0]
    return None if not path or ":memory:" in db_url else path


def leader_lock(db_url: str, timeout: float = 5.0) -> LeaderLock:
    if is_postgres(db_url):
        return PostgresLeaderLock(db_url, timeout)
    path = sqlite_path(db_url)
    return SoleLeader() if path is None else FileLeaderLock(f"{path}.leader-lock")


class FencedStore(NotifyStore):
    """The notify store as the follower and scheduler see it: the same engine and reads, but
    every transaction first proves that this process's term is still current."""

    def __init__(self, store: NotifyStore, leadership: Leadership) -> None:
        # Shares the store (and its pool) rather than opening another one.
        self._store = store
        self._leadership = leadership

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._leadership.in_transaction(), self._store.transaction() as connection:
            self._leadership.fence(connection)
            yield connection

    def close(self) -> None:
        """The wrapped store is closed by its owner."""


Duties = Callable[[], list[Coroutine[Any, Any, None]]]
TRANSACTION_WAIT = 5.0  # seconds a stepping-down leader waits for its open transactions


class Leadership:
    """Runs the leader's duties (follower, scheduler) only while this process holds the
    lock: standby until it gets it, then leader until it loses it (or stops)."""

    def __init__(self, lock: LeaderLock, poll: float) -> None:
        self.lock = lock
        self.poll = poll
        self.is_leader = False
        # Hook for whoever wants to watch the role (a leader gauge metric, say): each is
        # called with True on acquiring the lock and False on losing it, on the event loop.
        self.listeners: list[Callable[[bool], None]] = []
        self.decided = asyncio.Event()  # set once the first attempt has an answer
        self._term_open = False
        self._failing = False
        self._fenced = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Fenced transactions still running on worker threads: a term ends (and the lock is
        # freed) only once they are done, so that the next leader finds them committed.
        self._open = 0
        self._idle = threading.Condition()

    def fence(self, connection: Connection) -> None:
        """FencedStore's check; a failure also makes the leader step down at once (it is
        called from worker threads, hence call_soon_threadsafe)."""
        try:
            if not self._term_open:
                raise LeadershipLost("not the leader")
            self.lock.fence(connection)
        except LeadershipLost:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._fenced.set)
            raise

    @contextmanager
    def in_transaction(self) -> Iterator[None]:
        with self._idle:
            self._open += 1
        try:
            yield
        finally:
            with self._idle:
                self._open -= 1
                self._idle.notify_all()

    def _wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._open == 0, timeout)

    async def run(self, prepare: Callable[[], Awaitable[None]], duties: Duties) -> None:
        """`prepare` runs first in each term (before the duties start); `duties` makes the
        coroutines to run while leading."""
        self._loop = asyncio.get_running_loop()
        announced = False
        try:
            while True:
                if await self._attempt():
                    await self._lead(prepare, duties)
                    announced = False
                elif not announced:
                    log.info("standby", poll_seconds=self.poll)
                    announced = True
                self.decided.set()
                await asyncio.sleep(self.poll)
        finally:
            await self.lock.release()

    async def _attempt(self) -> bool:
        """One try for the lock. An unexpected failure counts as "not now" (and is logged):
        this loop must go on, or the process would stay a standby for good."""
        try:
            acquired = await self.lock.try_acquire()
        except Exception as error:
            if not self._failing:  # once per streak, not once per poll
                log.error("leader_lock_failed", error_type=type(error).__name__, exc_info=error)
            self._failing = True
            return False
        self._failing = False
        return acquired

    async def _lead(self, prepare: Callable[[], Awaitable[None]], duties: Duties) -> None:
        self._fenced.clear()
        epoch = getattr(self.lock, "epoch", None)
        tasks: list[asyncio.Task[None]] = []
        reason = "stopping"
        self._term_open = True  # prepare writes through the fence too
        try:
            try:
                await prepare()
            except Exception as error:
                reason = "prepare_failed"
                log.error("leadership_prepare_failed", error_type=type(error).__name__)
                return
            tasks = [asyncio.create_task(duty) for duty in duties()]
            self._set_leader(True)
            log.info("leadership_acquired", epoch=epoch, holder=holder_name())
            self.decided.set()
            reason = await self._watch(tasks)
        finally:
            await self._step_down(tasks, reason, epoch)

    async def _watch(self, tasks: list[asyncio.Task[None]]) -> str:
        """Returns why this term ends: fenced, a duty stopped, or the lock check failed."""
        fenced = asyncio.create_task(self._fenced.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    [fenced, *tasks], timeout=self.poll, return_when=asyncio.FIRST_COMPLETED
                )
                if fenced in done:
                    return "fenced"
                for task in done:
                    error = task.exception()
                    log.error(
                        "leader_duty_stopped",
                        error_type=type(error).__name__ if error else "",
                        exc_info=error,
                    )
                    return "duty_stopped"
                if not await self.lock.still_held():
                    return "lock_connection_lost"
        finally:
            fenced.cancel()

    async def _step_down(
        self, tasks: list[asyncio.Task[None]], reason: str, epoch: int | None
    ) -> None:
        # The term ends now: no fenced transaction begins after this line; then the duties
        # stop, the transactions under way finish (or fail their fence), and only then is
        # the lock freed for a standby.
        self._term_open = False
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not await asyncio.to_thread(self._wait_idle, TRANSACTION_WAIT):
            log.warning("leader_transactions_still_open", waited_seconds=TRANSACTION_WAIT)
        await self.lock.release()
        if self.is_leader:
            self._set_leader(False)
            (log.info if reason == "stopping" else log.warning)(
                "leadership_lost", reason=reason, epoch=epoch
            )

    def _set_leader(self, value: bool) -> None:
        self.is_leader = value
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                listener(value)
