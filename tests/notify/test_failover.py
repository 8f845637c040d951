"""Notify high availability: two notify processes on one database, one active (the holder of
the leader lock), both serving the API. Killing the active one hands its work to the other
within seconds, and no alert is missed or doubled, no reminder sent twice.

The process tests run on the real clock shifted to a Monday morning in Shanghai
(CASEBOOK_CLOCK_OFFSET_SECONDS), with due times a few real seconds ahead: a failover is a
matter of real seconds, which is what is measured here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2 as npb
from casebook_common.devsinks import HttpSink, SmtpSink
from casebook_notify.leader import (
    FileLeaderLock,
    LeadershipLost,
    PostgresLeaderLock,
    libpq_conninfo,
    open_store,
)
from tests.notify import harness
from tests.notify.harness import shanghai, when
from tests.support import (
    T0,
    NotifyProcess,
    ServerProcess,
    fresh_postgres_database,
    history,
    open_case,
    ts,
)

OFFSET = (T0 - datetime.now(UTC)).total_seconds()
TAKEOVER_LIMIT = 10.0
FAST_POLL = timedelta(milliseconds=100)
stack = harness.stack
on_postgres = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
on_sqlite = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def business_now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=OFFSET)


def eventually(check: Any, timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}; last value {value!r}")
        time.sleep(0.05)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# --------------------------------------------------------------------------- the lock itself


@pytest.fixture
def notify_pg() -> Iterator[str]:
    with fresh_postgres_database() as url:
        open_store(url).close()  # the tables, the epoch row's among them
        yield url


def _backend_pid(lock: PostgresLeaderLock) -> int:
    assert lock.connection is not None
    return lock.connection.info.backend_pid


def _terminate(db_url: str, pid: int) -> None:
    """What PostgreSQL does to the session of a process that dies."""
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@on_postgres
def test_one_of_two_leader_locks_is_granted_and_a_dead_session_hands_it_over(db_url, notify_pg):
    async def scenario() -> None:
        first, second = PostgresLeaderLock(notify_pg), PostgresLeaderLock(notify_pg)
        try:
            assert await first.try_acquire()
            assert not await second.try_acquire()
            assert await first.still_held()
            assert not await second.still_held()

            _terminate(notify_pg, _backend_pid(first))
            assert not await first.still_held()
            assert await second.try_acquire()
            assert second.epoch == (first.epoch or 0) + 1  # a new term
            assert not await first.try_acquire()  # taken: the old one stands by
        finally:
            await first.release()
            await second.release()

    run(scenario())


@on_postgres
def test_an_old_leaders_commit_is_refused_once_the_next_term_begins(db_url, notify_pg):
    """The fence: the new leader's epoch bump waits for the old leader's transaction that is
    still open, and every later transaction of the old leader fails."""
    store = open_store(notify_pg)

    async def scenario() -> None:
        old, new = PostgresLeaderLock(notify_pg), PostgresLeaderLock(notify_pg)
        try:
            assert await old.try_acquire()
            open_transaction = store.engine.connect()
            in_flight = open_transaction.begin()
            old.fence(open_transaction)  # passes: its term is current
            _terminate(notify_pg, _backend_pid(old))  # the lock is gone, the pool is not

            taking_over = asyncio.create_task(new.try_acquire())
            for _ in range(200):  # the new leader's epoch bump waits for the old transaction
                await asyncio.sleep(0.05)
                if _waiting_for_a_lock(store, "casebook-notify-leader"):
                    break
            else:
                raise AssertionError("the new leader's epoch bump did not wait")
            assert not taking_over.done()
            in_flight.commit()  # the old term's last commit lands before the new term
            open_transaction.close()
            assert await taking_over

            with pytest.raises(LeadershipLost), store.transaction() as late:
                old.fence(late)
        finally:
            await old.release()
            await new.release()

    try:
        run(scenario())
    finally:
        store.close()


@on_postgres
def test_an_old_leader_cut_off_mid_transaction_delays_the_takeover_only_briefly(db_url, notify_pg):
    """Its transaction never commits nor rolls back (its process froze, its network is
    gone): PostgreSQL ends it after the fence's idle limit, and the new term begins."""
    store = open_store(notify_pg)

    async def scenario() -> None:
        old = PostgresLeaderLock(notify_pg, idle_limit=1.0)
        new = PostgresLeaderLock(notify_pg)
        try:
            assert await old.try_acquire()
            frozen = store.engine.connect()
            frozen.begin()
            old.fence(frozen)
            _terminate(notify_pg, _backend_pid(old))
            started = time.monotonic()
            assert await new.try_acquire()
            assert 0.5 < time.monotonic() - started < new.timeout
            frozen.invalidate()  # PostgreSQL ended its session
        finally:
            await old.release()
            await new.release()

    try:
        run(scenario())
    finally:
        store.close()


def _waiting_for_a_lock(store: Any, application: str) -> bool:
    with store.engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"
                    " AND wait_event_type = 'Lock'"
                ),
                {"app": application},
            ).scalar()
        )


def test_on_sqlite_a_second_process_stands_by_on_the_lock_file(tmp_path: Path):
    async def scenario() -> None:
        path = str(tmp_path / "notify.db.leader-lock")
        first, second = FileLeaderLock(path), FileLeaderLock(path)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.still_held()
        await first.release()  # as the kernel does when the process exits
        assert await second.try_acquire()
        with pytest.raises(LeadershipLost):
            first.fence(None)  # type: ignore[arg-type]

        # A lock file removed under a running leader would let a third process lock a new
        # one: the leader notices and no longer counts itself leader.
        Path(path).unlink()
        assert not await second.still_held()
        with pytest.raises(LeadershipLost):
            second.fence(None)  # type: ignore[arg-type]
        await second.release()

    run(scenario())


# ------------------------------------------------------------- in this process, both stores


def test_a_standby_starting_leaves_the_leaders_reminder_in_flight_and_fails_it_on_takeover(stack):
    """Only a new leader may conclude that a reminder caught SENDING will never finish: a
    standby starting beside a live leader must not fail what the leader is sending."""
    leader = stack.start(standby_poll=FAST_POLL)
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    email = eventually(lambda: leader.by_channel(case_id).get("EMAIL"))
    leader.set_reminder_state(email.reminder_id, "SENDING")  # the leader is sending it now

    standby = stack.start(standby_poll=FAST_POLL)
    assert standby.running.leadership.is_leader is False
    assert leader.running.leadership.is_leader is True
    assert standby.by_channel(case_id)["EMAIL"].status == npb.Reminder.SENDING

    leader.close()
    eventually(lambda: standby.running.leadership.is_leader, what="the standby takes over")
    failed = eventually(
        when(
            lambda: standby.by_channel(case_id)["EMAIL"],
            lambda r: r.status == npb.Reminder.FAILED,
        )
    )
    assert failed.reason == "OUTCOME_UNKNOWN_AFTER_RESTART"
    stack.clock.set(shanghai(23, 14))  # the SMS reminder falls due: the new leader sends it
    eventually(lambda: stack.sms_for(standby.by_channel(case_id)["SMS"].reminder_id))
    standby.wait_ticks(4)
    assert stack.smtp.messages == []  # the one in doubt is never sent again


@on_postgres
def test_a_leader_whose_lock_session_ends_steps_down_and_one_leader_carries_on(stack):
    """The leader's process lives on but its lock session is gone (a network cut, an
    operator's pg_terminate_backend): it may no longer hold the lock, so it stops at once."""
    first = stack.start(standby_poll=FAST_POLL)
    second = stack.start(standby_poll=FAST_POLL)
    leader, standby = (first, second) if first.running.leadership.is_leader else (second, first)
    assert standby.running.leadership.is_leader is False
    changes: list[bool] = []
    leader.running.leadership.listeners.append(changes.append)
    lock = leader.running.leadership.lock
    assert isinstance(lock, PostgresLeaderLock)

    _terminate(stack.notify_db, _backend_pid(lock))
    eventually(lambda: False in changes, timeout=5, what="the leader steps down")
    eventually(
        lambda: first.running.leadership.is_leader or second.running.leadership.is_leader,
        timeout=5,
        what="a leader again",
    )
    (now_leading,) = [n for n in (first, second) if n.running.leadership.is_leader]
    # And it leads for real: a promise falling due is alerted once.
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 11))
    eventually(lambda: first.deadline_rows(case_id))
    stack.clock.set(shanghai(23, 11, 0, 1))
    (alert,) = eventually(first.alerts)
    assert alert.promise_id == promise_id
    now_leading.wait_ticks(4)  # only the leader ticks
    assert len(first.alerts()) == len(second.alerts()) == 1


# --------------------------------------------------------------------- processes, failover


class Pair:
    """A case service process, two notify processes on one notify database, an SMTP sink, an
    HTTP sink for SMS and the alert webhook."""

    def __init__(self, case_db: str, notify_db: str, tmp_path: Path, **env: str) -> None:
        self.smtp, self.http = SmtpSink(), HttpSink()
        clock = {"CASEBOOK_CLOCK_OFFSET_SECONDS": str(OFFSET)}
        self.case = ServerProcess(case_db, tmp_path / "case.log", **clock).start()
        notify_env = {
            "CASEBOOK_NOTIFY_CASE_ADDRESS": f"127.0.0.1:{self.case.port}",
            "CASEBOOK_NOTIFY_TICK": "100ms",
            "CASEBOOK_NOTIFY_GRACE": "0s",
            "CASEBOOK_NOTIFY_REMINDER_OFFSETS": "2s",
            "CASEBOOK_NOTIFY_RETRY_BASE": "200ms",
            "CASEBOOK_NOTIFY_SMTP_PORT": str(self.smtp.port),
            "CASEBOOK_NOTIFY_SMS_URL": self.http.url("/sms"),
            "CASEBOOK_NOTIFY_ALERT_WEBHOOK_URL": self.http.url("/alerts"),
            **clock,
            **env,
        }
        self.notify = [
            NotifyProcess(notify_db, tmp_path / f"notify-{n}.log", **notify_env) for n in (0, 1)
        ]
        # Started at the same moment: creating the tables side by side must be safe too.
        with ThreadPoolExecutor(2) as pool:
            assert [e for e in pool.map(_start_error, self.notify) if e] == []
        self.case_channel, self.cases = self.case.stub()
        self.channels: list[grpc.Channel] = []

    def roles(self) -> tuple[NotifyProcess, NotifyProcess]:
        """(active, standby), once both have decided."""
        acquired = [n for n in self.notify if _events(n, "leadership_acquired")]
        standing = [n for n in self.notify if _events(n, "standby")]
        assert len(acquired) == 1 and len(standing) == 1, (len(acquired), len(standing))
        assert acquired[0] is not standing[0]
        return acquired[0], standing[0]

    def api(self, notify: NotifyProcess) -> Any:
        channel, stub = notify.stub()
        self.channels.append(channel)
        return stub

    def promise(self, due: datetime) -> tuple[str, str]:
        case_id = open_case(self.cases).case_id
        promise_id = self.cases.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id, amount_minor=50_000, due_time=ts(due), payment_channel=pb.ALIPAY
            )
        ).promise_id
        return case_id, promise_id

    def close(self) -> None:
        for channel in [self.case_channel, *self.channels]:
            channel.close()
        for process in [*self.notify, self.case]:
            if process.process is not None and process.process.poll() is None:
                process.kill()
        self.smtp.stop()
        threading.Thread(target=self.http.stop, daemon=True).start()


def _start_error(process: NotifyProcess) -> BaseException | None:
    try:
        process.start(60)
    except Exception as error:  # reported by the assertion that follows
        return error
    return None


def _events(process: NotifyProcess, name: str) -> list[dict[str, Any]]:
    return [r for r in process.log_records() if r.get("event") == name]


def _logged_at(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()


def _health(process: NotifyProcess) -> int:
    channel, _ = process.stub()
    with channel:
        return (
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service="casebook.v1.NotifyService"), timeout=5)
            .status
        )


def _list_alerts(stub: Any) -> list[npb.Alert]:
    found, token = [], ""
    while True:
        page = stub.ListAlerts(npb.ListAlertsRequest(page_size=500, page_token=token), timeout=10)
        found.extend(page.alerts)
        token = page.next_page_token
        if not token:
            return found


def _watch(stub: Any, into: list[npb.Alert]) -> Any:
    call = stub.WatchAlerts(npb.WatchAlertsRequest(), timeout=60)

    def read() -> None:
        try:
            into.extend(call)
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise

    threading.Thread(target=read, daemon=True).start()
    return call


def _sleep_until(moment: datetime) -> None:
    time.sleep(max((moment - business_now()).total_seconds(), 0))


@pytest.fixture
def pair_on_postgres(db_url: str, tmp_path: Path) -> Iterator[Pair]:
    with fresh_postgres_database() as notify_db:
        pair = Pair(db_url, notify_db, tmp_path)
        try:
            yield pair
        finally:
            pair.close()


@on_postgres
def test_kill_the_active_notify_and_the_standby_takes_over_missing_and_doubling_nothing(
    pair_on_postgres: Pair,
):
    pair = pair_on_postgres
    active, standby = pair.roles()
    watched: list[npb.Alert] = []
    watch = _watch(pair.api(standby), watched)  # the standby streams the leader's alerts

    # Due before the kill (handled by the active one), in the gap between the kill and the
    # takeover, and after it (handled by the new leader); reminders 2 s before each.
    start = business_now()
    kill_at = start + timedelta(seconds=6.5)
    groups = {
        "before": start + timedelta(seconds=4),
        "gap": kill_at + timedelta(seconds=0.3),
        "after": kill_at + timedelta(seconds=3.5),
    }
    promises = {name: [pair.promise(due) for _ in range(4)] for name, due in groups.items()}
    every_promise = Counter(p for group in promises.values() for _, p in group)

    before = {p for _, p in promises["before"]}
    eventually(
        lambda: {a.promise_id for a in watched} >= before,
        what="the standby's WatchAlerts streams the alerts the leader raises",
    )
    eventually(lambda: len(pair.http.posted("/alerts")) >= len(before), what="webhook posts")
    assert _events(standby, "leadership_acquired") == []  # it only watched
    assert _health(standby) == health_pb2.HealthCheckResponse.SERVING  # it serves reads

    _sleep_until(kill_at)  # a quiet moment: nothing is being sent
    killed = time.time()
    active.kill()
    (acquired,) = eventually(
        lambda: _events(standby, "leadership_acquired"), what="the standby takes over"
    )
    takeover = _logged_at(acquired) - killed
    print(f"takeover {takeover:.2f}s after SIGKILL")
    assert takeover < TAKEOVER_LIMIT

    active.start()  # the old leader comes back, as a standby
    eventually(lambda: _events(active, "standby"), what="the restarted one stands by")
    apis = [pair.api(standby), pair.api(active)]
    _sleep_until(groups["after"] + timedelta(seconds=0.5))
    eventually(
        lambda: all(len(_list_alerts(api)) >= len(every_promise) for api in apis),
        what="every alert, on both processes",
    )
    eventually(
        lambda: len(pair.http.posted("/alerts")) >= len(every_promise), what="every webhook post"
    )
    time.sleep(0.5)  # several ticks: anything doubled would show by now

    for api in apis:
        alerts = _list_alerts(api)
        assert Counter(a.promise_id for a in alerts) == every_promise
        assert {npb.AlertKind.Name(a.kind) for a in alerts} == {"BROKEN_PROMISE"}
    alert_ids = {a.alert_id for a in _list_alerts(apis[0])}
    assert Counter(r["key"] for r in pair.http.posted("/alerts")) == Counter(alert_ids)
    eventually(lambda: len(watched) >= len(every_promise), what="the stream follows the takeover")
    watch.cancel()
    assert Counter(a.promise_id for a in watched) == every_promise

    # Every reminder sent, each exactly once (counted at the sinks by reminder id).
    delivered = Counter(m["message_id"].strip("<>").split("@")[0] for m in pair.smtp.messages)
    delivered += Counter(r["key"] for r in pair.http.posted("/sms"))
    reminders = [
        r
        for case_id, _ in (c for group in promises.values() for c in group)
        for r in apis[0].ListReminders(npb.ListRemindersRequest(case_id=case_id)).reminders
    ]
    assert len(reminders) == 2 * len(every_promise)  # SMS and e-mail for each
    assert {npb.Reminder.Status.Name(r.status) for r in reminders} == {"SENT"}
    assert delivered == Counter(r.reminder_id for r in reminders)

    for case_id, _ in (c for group in promises.values() for c in group):
        assert [e.type for e in history(pair.cases, case_id)].count("PromiseBroken") == 1


@on_sqlite
def test_on_sqlite_a_second_notify_stands_by_and_takes_over_when_the_first_is_killed(
    db_url: str, tmp_path: Path
):
    pair = Pair(db_url, f"sqlite:///{tmp_path}/notify.db", tmp_path)
    try:
        active, standby = pair.roles()
        killed = time.time()
        active.kill()
        (acquired,) = eventually(lambda: _events(standby, "leadership_acquired"))
        assert _logged_at(acquired) - killed < TAKEOVER_LIMIT
        case_id, promise_id = pair.promise(business_now() + timedelta(seconds=1))
        api = pair.api(standby)
        (alert,) = eventually(lambda: _list_alerts(api), what="the new leader raises the alert")
        assert alert.promise_id == promise_id
        assert len(pair.http.posted("/sms")) + len(pair.smtp.messages) == 0  # too late: skipped
        assert [e.type for e in history(pair.cases, case_id)].count("PromiseBroken") == 1
    finally:
        pair.close()
