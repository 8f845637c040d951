"""Figure 5: the notify tick with 1,000 against 100,000 pending deadlines (in-process, on a
manual clock, 1,000 of them due), and the delay from a promise's due time to its
BROKEN_PROMISE alert with both services as real processes on the real clock."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import insert

from bench.report import figure, percentile, scaled, section
from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook.v1 import notify_service_pb2 as nsvc
from casebook_case.commands import RecordPromise
from casebook_common.clock import ManualClock
from casebook_notify.config import NotifyConfig
from casebook_notify.scheduler import Scheduler
from casebook_notify.store import NotifyStore, deadlines
from tests.support import T0, InProcessServer, NotifyProcess, ServerProcess, open_case

TICK = timedelta(milliseconds=250)  # the notify default (CASEBOOK_NOTIFY_TICK)


def _timed(call: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def tick(folder: Path) -> None:
    """Tick cost must follow the number due, not the number pending."""
    section("5. Notify: tick firing 1,000 due deadlines (each a MarkPromiseBroken call)")
    clock = ManualClock(T0)
    server = InProcessServer(f"sqlite:///{folder}/tick-case.db", clock)
    try:
        results = {}
        for pending in (1_000, 100_000):
            store = NotifyStore(f"sqlite:///{folder}/tick-{pending}.db")
            config = NotifyConfig(
                case_address=f"127.0.0.1:{server.port}",
                reminder_offsets=(),
                retry_base=timedelta(hours=1),
            )
            due_at = clock.now() + timedelta(hours=1)
            due_rows = []
            for _ in range(1_000):
                case_id = open_case(server.stub).case_id
                promise_id = server.app.execute(
                    RecordPromise(
                        case_id=case_id,
                        amount_minor=1_000,
                        due_time=due_at,
                        payment_channel="ALIPAY",
                    ),
                    "bench",
                ).result_id
                due_rows.append(
                    dict(
                        deadline_id=f"{promise_id}:0",
                        case_id=case_id,
                        promise_id=promise_id,
                        due_time=due_at,
                        fire_at=due_at,
                        state="PENDING",
                        outcome="",
                        attempts=0,
                    )
                )
            later = clock.now() + timedelta(days=30)
            idle = [
                dict(
                    deadline_id=f"{uuid.uuid4()}:0",
                    case_id=str(uuid.uuid4()),
                    promise_id=str(uuid.uuid4()),
                    due_time=later,
                    fire_at=later,
                    state="PENDING",
                    outcome="",
                    attempts=0,
                )
                for _ in range(pending - 1_000)
            ]
            with store.transaction() as connection:
                connection.execute(insert(deadlines), due_rows + idle)
            clock.set(due_at + timedelta(seconds=1))
            scheduler = Scheduler(store, config, clock)

            async def tick(s: Scheduler = scheduler) -> tuple[float, float, int]:
                # The due query reads only; its median over 21 runs steadies it on a busy
                # machine. The whole tick fires the deadlines, so it runs once.
                query = statistics.median(
                    [
                        await asyncio.to_thread(_timed, s._due_deadlines, clock.now())
                        for _ in range(21)
                    ]
                )
                report = await s.tick()
                await s.close()
                return query, report.seconds, report.deadlines

            query, whole, fired = asyncio.run(tick())
            results[pending] = (query * 1000, whole * 1000, fired)
            store.close()
            clock.set(T0)
        (q1, t1, f1), (q2, t2, f2) = results[1_000], results[100_000]
        name = "5 notify"
        figure(name, "due query, 1,000 pending", q1, "ms")
        figure(name, "due query, 100,000 pending", q2, "ms", q1, "<= 1.5")
        figure(name, "whole tick, 1,000 pending", t1, "ms")
        figure(name, "whole tick, 100,000 pending", t2, "ms", t1, "<= 1.5")
        assert f1 == f2 == 1_000, (f1, f2)
    finally:
        server.close()


def alert_delay(folder: Path) -> None:
    """Promises falling due over a few seconds; each alert's arrival at a WatchAlerts client
    against its due time. Bounded below by the tick: the scheduler looks for due work every
    250 ms."""
    count = scaled(200, least=20)
    case = ServerProcess(f"sqlite:///{folder}/delay-case.db", folder / "delay-case.log").start()
    notify = NotifyProcess(
        f"sqlite:///{folder}/delay-notify.db",
        folder / "delay-notify.log",
        CASEBOOK_NOTIFY_CASE_ADDRESS=f"127.0.0.1:{case.port}",
        CASEBOOK_NOTIFY_REMINDER_CHANNELS="EMAIL",
        CASEBOOK_NOTIFY_REMINDER_OFFSETS="30d",
        CASEBOOK_NOTIFY_GRACE="0s",
    ).start()
    case_channel, case_stub = case.stub()
    notify_channel, notify_stub = notify.stub()
    arrivals: list[tuple[nsvc.Alert, float]] = []
    try:
        cases = [open_case(case_stub).case_id for _ in range(count)]
        watch = notify_stub.WatchAlerts(nsvc.WatchAlertsRequest())

        def listen() -> None:
            try:
                for alert in watch:
                    arrivals.append((alert, time.time()))
                    if len(arrivals) == count:
                        return
            except grpc.RpcError:
                return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        first_due = datetime.now(UTC) + timedelta(seconds=4)
        for i, case_id in enumerate(cases):
            due = Timestamp()
            due.FromDatetime(first_due + timedelta(seconds=4 * i / count))
            rpc.CaseServiceStub(case_channel).RecordPromise(
                svc.RecordPromiseRequest(
                    case_id=case_id,
                    amount_minor=1_000,
                    due_time=due,
                    payment_channel=pb.ALIPAY,
                )
            )
        listener.join(60)
        watch.cancel()
        delays = [
            (arrived - alert.missed_due_time.ToDatetime(tzinfo=UTC).timestamp()) * 1000
            for alert, arrived in arrivals
        ]
        assert len(delays) == count, (len(delays), count)
        section(f"5. Notify: due time to BROKEN_PROMISE alert, {count} promises, real processes")
        tick_ms = TICK.total_seconds() * 1000
        name = "5 notify"
        figure(name, "tick interval (CASEBOOK_NOTIFY_TICK)", tick_ms, "ms")
        figure(name, "due time to alert at a client, p50", percentile(delays, 0.5), "ms", tick_ms)
        figure(name, "due time to alert at a client, p99", percentile(delays, 0.99), "ms", tick_ms)
    finally:
        case_channel.close()
        notify_channel.close()
        notify.terminate()
        case.terminate()
