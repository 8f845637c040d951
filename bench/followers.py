"""Figures 4 and 6 on one store: SubscribeEvents catching up on 1,000,000 events against
reading the same rows with SQL, and the peak RSS of both services (real processes) after
100,000 and after 1,000,000 events.

The store starts with what figure 2 wrote (about 100,000 events, through the service). It is
grown to 1,000,000 case events in this process, 455 events per transaction: new cases, each
opened and then reassigned 90 times between two agents (real events, sealed and encrypted
as the service writes them; CaseAssigned is the cheapest event to make, and 91 events per
case stay below the snapshot interval). Both services follow while it grows, as they would
in production; the catch-up is measured afterwards, alone.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc

from bench.report import figure, rss_mb, scaled, section
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.application import CaseApplication
from casebook_case.commands import AssignCase
from casebook_case.domain.case import Case, CommandMeta
from casebook_case.history import CASE_EVENT_TOPICS
from tests.support import TEST_CIPHER_KEY, NotifyProcess, ServerProcess

PAGE = 500
# The queries below are built with "?" placeholders only (ruff S608 cannot tell).
FOLLOWER = (("x-casebook-actor", "bench:follower"),)


def run(case_server: ServerProcess, db_path: Path, folder: Path) -> None:
    target = scaled(1_000_000)
    notify_db = folder / "notify.db"
    notify = NotifyProcess(
        f"sqlite:///{notify_db}",
        folder / "notify.log",
        CASEBOOK_NOTIFY_CASE_ADDRESS=f"127.0.0.1:{case_server.port}",
        CASEBOOK_NOTIFY_REMINDER_CHANNELS="EMAIL",
    ).start()
    assert notify.process is not None and case_server.process is not None
    try:
        first = _case_event_head(db_path)
        started = time.perf_counter()
        _wait_for_notify(notify_db, first)
        notify_rate_first = _case_events(db_path) / (time.perf_counter() - started)
        rss_first = {
            "case": rss_mb(case_server.process.pid),
            "notify": rss_mb(notify.process.pid),
        }
        early = _case_events(db_path)

        started = time.perf_counter()
        _write_events(db_path, target)
        head = _case_event_head(db_path)
        total = _case_events(db_path)
        written = time.perf_counter() - started
        _wait_for(db_path, "SELECT max(position) FROM casebook_proj_position", head)
        projector_rate = (total - early) / (time.perf_counter() - started)
        _wait_for_notify(notify_db, head)
        notify_rate_rest = (total - early) / (time.perf_counter() - started)
        section(f"4. Followers: catch-up over {total:,} case events")
        sql_rate = _read_with_sql(db_path, head, total)
        decode_rate = _decode_in_process(db_path, scaled(100_000))
        grpc_rate = _catch_up(case_server.port, head, total)
        one_by_one = _catch_up_one_by_one(case_server.port, scaled(50_000))
        name = "4 followers"
        figure(name, "rows read with SQL (no decoding), pages of 500", sql_rate, "ev/s")
        figure(name, "read_log in-process (decrypt, decode)", decode_rate, "ev/s", sql_rate)
        figure(name, "SubscribeEvents, 500 events a message", grpc_rate, "ev/s", sql_rate)
        figure(name, "SubscribeEvents, one event a message", one_by_one, "ev/s", sql_rate)
        figure(name, "written by the generator (context)", (total - early) / written, "ev/s")
        figure(name, "worklist projector, while written", projector_rate, "ev/s", sql_rate)
        figure(name, "notify service, while written", notify_rate_rest, "ev/s", sql_rate)

        rss_last = {
            "case": rss_mb(case_server.process.pid),
            "notify": rss_mb(notify.process.pid),
        }
        section(f"6. Memory: peak RSS of each service after {early:,} and {total:,} events")
        name = "6 memory"
        for service in ("case", "notify"):
            figure(
                name, f"{service} service peak RSS at {early:,} events", rss_first[service][1], "MB"
            )
            figure(
                name,
                f"{service} service peak RSS at {total:,} events",
                rss_last[service][1],
                "MB",
                rss_first[service][1],
                "<= 1.5",
            )
        figure(name, f"notify caught up on the first {early:,} events", notify_rate_first, "ev/s")
    finally:
        notify.terminate()


def _case_events(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as db:
        marks = ",".join("?" * len(CASE_EVENT_TOPICS))
        query = f"SELECT count(*) FROM casebook_events WHERE topic IN ({marks})"  # noqa: S608
        return int(db.execute(query, list(CASE_EVENT_TOPICS)).fetchone()[0])


def _case_event_head(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as db:
        marks = ",".join("?" * len(CASE_EVENT_TOPICS))
        query = f"SELECT max(id) FROM casebook_events WHERE topic IN ({marks})"  # noqa: S608
        return int(db.execute(query, list(CASE_EVENT_TOPICS)).fetchone()[0])


def _write_events(db_path: Path, target: int) -> None:
    """New cases, each opened and reassigned 90 times, until the log holds `target` case
    events; 5 cases (455 events) per transaction."""
    app = CaseApplication(f"sqlite:///{db_path}", cipher_key=TEST_CIPHER_KEY, cache_size=10)
    assignments = [AssignCase(case_id="", assignee=f"agent:{k}") for k in (1, 2)]
    have = _case_events(db_path)
    try:
        while have < target:
            now = datetime.now(UTC)
            meta = CommandMeta("bench:generator", now, "", "")
            group = []
            for _ in range(min(5, max(1, (target - have) // 91))):
                case = Case.open(
                    uuid.uuid4(),
                    meta,
                    account_id=f"GEN-{have}",
                    debtor={"name": "Bench Debtor", "time_zone": "Asia/Shanghai"},
                    profile="CN",
                    currency="CNY",
                    overdue_amount_minor=100_000,
                    days_past_due=30,
                    opened_at=now,
                )
                for i in range(min(90, target - have - 1)):
                    assignments[i % 2].run(case, meta, app.policy)
                have += len(case.pending_events)
                group.append(case)
            app.save(*group)
    finally:
        app.close()


def _read_with_sql(db_path: Path, head: int, total: int) -> float:
    """The rows SubscribeEvents reads, in the same pages, without decrypting them."""
    marks = ",".join("?" * len(CASE_EVENT_TOPICS))
    query = (
        "SELECT id, originator_id, originator_version, topic, state FROM casebook_events "  # noqa: S608
        f"WHERE id > ? AND topic IN ({marks}) ORDER BY id LIMIT {PAGE}"
    )
    read, position = 0, 0
    started = time.perf_counter()
    with sqlite3.connect(db_path, timeout=30) as db:
        while position < head:
            rows = db.execute(query, [position, *CASE_EVENT_TOPICS]).fetchall()
            read += len(rows)
            position = rows[-1][0]
    assert read == total, (read, total)
    return read / (time.perf_counter() - started)


def _decode_in_process(db_path: Path, count: int) -> float:
    app = CaseApplication(f"sqlite:///{db_path}", cipher_key=TEST_CIPHER_KEY)
    try:
        read, position = 0, 0
        started = time.perf_counter()
        while read < count:
            page = app.read_log(position, PAGE)
            if not page:
                break
            read += len(page)
            position = page[-1][0]
        return read / (time.perf_counter() - started)
    finally:
        app.close()


def _catch_up(port: int, head: int, total: int, per_message: int = 500) -> float:
    """Events/s reading the whole log over SubscribeEvents, `per_message` events a message."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = rpc.CaseServiceStub(channel)
        request = svc.SubscribeEventsRequest(after_position=0, max_events_per_message=per_message)
        stream = stub.SubscribeEvents(request, metadata=FOLLOWER)
        received = 0
        started = time.perf_counter()
        for message in stream:
            received += len(message.events)
            if message.events[-1].position >= head:
                break
        elapsed = time.perf_counter() - started
        stream.cancel()
        assert received == total, (received, total)
        return received / elapsed
    finally:
        channel.close()


def _catch_up_one_by_one(port: int, count: int) -> float:
    """Events/s over SubscribeEvents with one event a message (the default), first `count`."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = rpc.CaseServiceStub(channel)
        stream = stub.SubscribeEvents(svc.SubscribeEventsRequest(), metadata=FOLLOWER)
        received = 0
        started = time.perf_counter()
        for _ in stream:
            received += 1
            if received == count:
                break
        elapsed = time.perf_counter() - started
        stream.cancel()
        return received / elapsed
    finally:
        channel.close()


def _wait_for_notify(notify_db: Path, position: int) -> None:
    _wait_for(notify_db, "SELECT max(position) FROM notify_position", position)


def _wait_for(db_path: Path, query: str, position: int, timeout: float = 900) -> None:
    """Until a follower's tracked position (`query`) reaches `position`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db_path, timeout=30) as db:
                row = db.execute(query).fetchone()
            if row and row[0] is not None and row[0] >= position:
                return
        except sqlite3.OperationalError:
            pass  # the table is not there yet
        time.sleep(0.2)
    raise TimeoutError(f"{query!r} did not reach {position}")
