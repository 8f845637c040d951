"""Notify in this process, on the case service's manual clock.

The real notify service (follower, scheduler, NotifyService on a loopback port) runs on an
event loop of its own thread, next to `tests.support.InProcessServer`. Its scheduler ticks
every 50 ms of real time but acts on business time, which only the test moves. A test moves
the clock, then waits for the asynchronous effect (`eventually`) or for the scheduler to have
completed whole ticks since the move (`Notify.wait_ticks`) before it says "nothing happened".
No test ever sleeps for a business deadline.

Use it through the `stack` fixture: `stack = harness.stack` in a test module.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import pytest
from sqlalchemy import select, update

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2 as npb
from casebook.v1 import notify_service_pb2_grpc as nrpc
from casebook_common.clock import ManualClock
from casebook_common.devsinks import HttpSink, SmtpSink
from casebook_notify import server as server_module
from casebook_notify.api import AlertBell
from casebook_notify.config import NotifyConfig
from casebook_notify.server import RunningNotify, start_notify
from casebook_notify.store import alerts, deadlines, reminders
from tests.support import (
    InProcessServer,
    dump_stuck_stop,
    fresh_postgres_database,
    history,
    ts,
)

T = TypeVar("T")
SHANGHAI = timedelta(hours=8)
TICK = timedelta(milliseconds=50)
RETRY_BASE = timedelta(seconds=60)


def shanghai(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Wall-clock time in Shanghai on 2026-11-<day> (23 is a Monday), as a UTC instant."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC) - SHANGHAI


def eventually(check: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` real
    seconds. Only for asynchronous effects, never to wait for business time."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or check}; last value {value!r}")
        time.sleep(0.02)


def when(check: Callable[[], T], condition: Callable[[T], object]) -> Callable[[], T | None]:
    """`eventually(when(read, lambda v: ...))`: the value read once it satisfies condition."""

    def probe() -> T | None:
        value = check()
        return value if condition(value) else None

    return probe


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stamp(value: Any) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def mail_text(mail: dict[str, Any]) -> str:
    """A recorded e-mail's body with quoted-printable soft line breaks joined."""
    return str(mail["body"]).replace("=\r\n", "").replace("=\n", "")


class AlertStream:
    """A WatchAlerts call read on a thread of its own into a queue."""

    def __init__(self, stub: nrpc.NotifyServiceStub, request: npb.WatchAlertsRequest) -> None:
        self.call = stub.WatchAlerts(request)
        self.received: queue.Queue[npb.Alert] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.task: asyncio.Task[Any] | None = None  # serving it, in notify (see watching)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for alert in self.call:
                self.received.put(alert)
        except grpc.RpcError as error:
            self.error = error

    def take(self, count: int, timeout: float = 5.0) -> list[npb.Alert]:
        return [self.received.get(timeout=timeout) for _ in range(count)]

    def pending(self) -> list[npb.Alert]:
        found = []
        while not self.received.empty():
            found.append(self.received.get_nowait())
        return found

    def cancel(self) -> None:
        self.call.cancel()
        self.thread.join(5)


class CountingBell(AlertBell):
    """The WatchAlerts wake-up bell, counting per stream (the task serving it) how often it
    went to wait: a stream that waits has sent everything after its starting sequence."""

    last: CountingBell

    def __init__(self) -> None:
        super().__init__()
        self._waits: dict[asyncio.Task[Any], int] = {}
        self._lock = threading.Lock()  # read from the test's thread
        CountingBell.last = self

    def waits(self) -> dict[asyncio.Task[Any], int]:
        with self._lock:
            return dict(self._waits)

    async def wait(self, seen: int, timeout: float) -> int:
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._waits[task] = self._waits.get(task, 0) + 1
        return await super().wait(seen, timeout)


_STARTING = threading.Lock()


class Notify:
    """One notify service: real gRPC API, its own database, the shared manual clock."""

    def __init__(self, config: NotifyConfig, clock: ManualClock) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        with _STARTING:  # the bell class is swapped only while this notify starts
            server_module.AlertBell = CountingBell
            try:
                self.running: RunningNotify = asyncio.run_coroutine_threadsafe(
                    start_notify(config, clock), self.loop
                ).result(30)
            finally:
                server_module.AlertBell = AlertBell
        self.bell: CountingBell = CountingBell.last
        self.ticks = 0
        self._count_ticks()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.running.port}")
        self.stub = nrpc.NotifyServiceStub(self.channel)
        self.closed = False

    def _count_ticks(self) -> None:
        scheduler = self.running.scheduler
        tick = scheduler.tick

        async def counted() -> Any:
            try:
                return await tick()
            finally:
                self.ticks += 1

        scheduler.tick = counted  # type: ignore[method-assign]

    @property
    def store(self) -> Any:
        return self.running.store

    @property
    def scheduler(self) -> Any:
        return self.running.scheduler

    def watching(self, request: npb.WatchAlertsRequest, timeout: float = 5.0) -> AlertStream:
        """Open a WatchAlerts stream; return it once the server has sent what there was to
        send and waits for new alerts: whatever is raised after this is news to it."""
        known = set(self.bell.waits())
        stream = AlertStream(self.stub, request)
        new = eventually(lambda: set(self.bell.waits()) - known, timeout, "WatchAlerts waiting")
        assert len(new) == 1
        stream.task = new.pop()
        return stream

    def wait_until_idle(self, *streams: AlertStream, timeout: float = 5.0) -> None:
        """Wait until each stream has gone back to the database once more and found nothing
        further to send (it waits twice more: a whole read lies between)."""
        now = self.bell.waits()
        targets = {s.task: now[s.task] + 2 for s in streams}
        eventually(
            lambda: all(self.bell.waits()[task] >= n for task, n in targets.items()),
            timeout,
            "streams idle",
        )

    def wait_ticks(self, count: int = 2, timeout: float = 5.0) -> None:
        """Wait until `count` more scheduler ticks have finished: with 2, at least one whole
        tick began after this call, so whatever was due by the clock has been acted on."""
        target = self.ticks + count
        eventually(lambda: self.ticks >= target, timeout, f"{count} scheduler ticks")

    # ---------------------------------------------------------------- reading
    def reminders(self, case_id: str) -> list[npb.Reminder]:
        return list(self.stub.ListReminders(npb.ListRemindersRequest(case_id=case_id)).reminders)

    def by_channel(self, case_id: str) -> dict[str, npb.Reminder]:
        """Reminders of a case keyed by channel name (one offset, one due time)."""
        listed = self.reminders(case_id)
        found = {pb.Channel.Name(r.channel): r for r in listed}
        assert len(found) == len(listed), "more than one reminder per channel"
        return found

    def alerts(self, **filter_fields: Any) -> list[npb.Alert]:
        found: list[npb.Alert] = []
        token = ""
        while True:
            page = self.stub.ListAlerts(
                npb.ListAlertsRequest(
                    filter=npb.AlertFilter(**filter_fields), page_size=500, page_token=token
                )
            )
            found.extend(page.alerts)
            token = page.next_page_token
            if not token:
                return found

    def deadline_rows(self, case_id: str) -> list[Any]:
        return self.store.rows(
            select(deadlines)
            .where(deadlines.c.case_id == case_id)
            .order_by(deadlines.c.due_time, deadlines.c.deadline_id)
        )

    def alert_rows(self, case_id: str) -> list[Any]:
        return self.store.rows(select(alerts).where(alerts.c.case_id == case_id))

    def set_reminder_state(self, reminder_id: str, state: str) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(reminders).where(reminders.c.reminder_id == reminder_id).values(state=state)
            )

    def reopen_deadline(self, deadline_id: str) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(deadlines)
                .where(deadlines.c.deadline_id == deadline_id)
                .values(state="PENDING", outcome="")
            )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.channel.close()
        try:
            asyncio.run_coroutine_threadsafe(self.running.stop(1.0), self.loop).result(30)
        except TimeoutError:
            dump_stuck_stop(self.loop)
            raise
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Stack:
    """The case service (`server`), the manual clock, an SMTP server, an HTTP gateway for
    SMS and the alert webhook, and notify services started on demand."""

    server: InProcessServer
    clock: ManualClock
    smtp: SmtpSink
    http: HttpSink
    notify_db: str
    started: list[Notify] = field(default_factory=list)

    @property
    def cases(self) -> Any:
        return self.server.stub

    def config(self, **overrides: Any) -> NotifyConfig:
        settings: dict[str, Any] = dict(
            db_url=self.notify_db,
            listen="127.0.0.1:0",
            case_address=f"127.0.0.1:{self.server.port}",
            reminder_offsets=(timedelta(hours=2),),
            reminder_channels=("SMS", "EMAIL"),
            tick=TICK,
            retry_base=RETRY_BASE,
            max_attempts=3,
            smtp_port=self.smtp.port,
            sms_url=self.http.url("/sms"),
            alert_webhook_url="",
        )
        settings.update(overrides)
        return NotifyConfig(**settings)

    def start(self, **overrides: Any) -> Notify:
        notify = Notify(self.config(**overrides), self.clock)
        self.started.append(notify)
        return notify

    # ------------------------------------------------------------ case side
    def open_case(self, *, email: str = "li.lei@example.cn", phone: str = "+8613800138000") -> str:
        return self.cases.OpenCase(
            svc.OpenCaseRequest(
                request_id=uuid.uuid4().hex,
                account_id=f"ACC-{uuid.uuid4().hex[:8]}",
                debtor=pb.Debtor(
                    name="Li Lei",
                    phone=phone,
                    email=email,
                    address="1 Chang'an Avenue, Beijing",
                    time_zone="Asia/Shanghai",
                    id_number="110101199003070000",
                ),
                overdue_amount_minor=100_000,
                currency="CNY",
                days_past_due=30,
            )
        ).case_id

    def promise(self, case_id: str, due: datetime, amount: int = 30_000) -> str:
        return self.cases.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                request_id=uuid.uuid4().hex,
                amount_minor=amount,
                due_time=ts(due),
                payment_channel=pb.WECHAT_PAY,
            )
        ).promise_id

    def instalment_promise(self, case_id: str, *instalments: tuple[int, datetime]) -> str:
        return self.cases.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                request_id=uuid.uuid4().hex,
                amount_minor=sum(amount for amount, _ in instalments),
                instalments=[pb.Instalment(amount_minor=a, due_time=ts(d)) for a, d in instalments],
                payment_channel=pb.WECHAT_PAY,
            )
        ).promise_id

    def pay(self, case_id: str, amount: int) -> None:
        self.cases.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case_id,
                request_id=uuid.uuid4().hex,
                amount_minor=amount,
                payment_reference=f"PAY-{uuid.uuid4().hex[:12]}",
            )
        )

    def mark_broken(self, case_id: str, promise_id: str, actor: str = "agent-7") -> pb.Case:
        return self.cases.MarkPromiseBroken(
            svc.MarkPromiseBrokenRequest(
                case_id=case_id, promise_id=promise_id, request_id=uuid.uuid4().hex
            ),
            metadata=(("x-casebook-actor", actor),),
        )

    def promise_status(self, case_id: str, promise_id: str) -> int:
        case = self.cases.GetCase(svc.GetCaseRequest(case_id=case_id))
        return next(p.status for p in case.promises if p.promise_id == promise_id)

    def events(self, case_id: str, event_type: str) -> list[pb.CaseEvent]:
        return [e for e in history(self.cases, case_id) if e.type == event_type]

    def sms_for(self, reminder_id: str) -> list[dict[str, Any]]:
        return [r for r in self.http.posted("/sms") if r["key"] == reminder_id]

    def mails_for(self, reminder_id: str) -> list[dict[str, Any]]:
        return [m for m in self.smtp.messages if m["message_id"] == f"<{reminder_id}@casebook>"]


@pytest.fixture
def stack(
    server: InProcessServer, clock: ManualClock, db_url: str, tmp_path: Any
) -> Iterator[Stack]:
    """Notify's own database follows the case fixture's backend: SQLite next to the test, or a
    second fresh PostgreSQL database."""
    smtp, http = SmtpSink(), HttpSink()
    with _notify_database(db_url, tmp_path) as notify_db:
        running = Stack(server, clock, smtp, http, notify_db)
        try:
            yield running
        finally:
            for notify in running.started:
                notify.close()
            with suppress(Exception):  # a test may have stopped it already
                smtp.stop()
            # HttpSink.stop waits for serve_forever's 0.5 s poll: let it finish on its own.
            threading.Thread(target=http.stop, daemon=True).start()


def _notify_database(db_url: str, tmp_path: Any) -> Any:
    if db_url.startswith("sqlite"):
        return nullcontext(f"sqlite:///{tmp_path}/notify.db")
    return fresh_postgres_database()
