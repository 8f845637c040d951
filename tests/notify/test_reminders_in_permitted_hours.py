"""Reminder rules, deterministically: both services in this process on one manual clock, the
scheduler ticking in real time but acting on business time that only the test moves."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2 as npb
from casebook.v1 import notify_service_pb2_grpc as nrpc
from casebook_common.devsinks import HttpSink, SmtpSink
from casebook_notify.config import NotifyConfig
from casebook_notify.server import start_notify
from casebook_notify.store import reminders
from tests.support import fresh_postgres_database, history, open_case, ts

SHANGHAI = timedelta(hours=8)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai on 2026-11-<day>, as a UTC instant."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - SHANGHAI


def eventually(check, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class InProcessNotify:
    def __init__(self, config: NotifyConfig, clock) -> None:
        import grpc

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = asyncio.run_coroutine_threadsafe(
            start_notify(config, clock), self.loop
        ).result(30)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.running.port}")
        self.stub = nrpc.NotifyServiceStub(self.channel)

    def reminders(self, case_id: str) -> list[npb.Reminder]:
        return list(self.stub.ListReminders(npb.ListRemindersRequest(case_id=case_id)).reminders)

    def close(self) -> None:
        if not self.thread.is_alive():
            return  # closed already (a test may stop it to restart it)
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.running.stop(1.0), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def notify_db(db_url, tmp_path):
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/notify.db"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def sinks():
    smtp, http = SmtpSink(), HttpSink()
    yield smtp, http
    smtp.stop()
    http.stop()


@pytest.fixture
def start(server, clock, notify_db, sinks):
    smtp, http = sinks
    started = []

    def make(**overrides) -> InProcessNotify:
        settings = dict(
            db_url=notify_db,
            listen="127.0.0.1:0",
            case_address=f"127.0.0.1:{server.port}",
            reminder_offsets=(timedelta(hours=14),),
            reminder_channels=("SMS", "EMAIL"),
            tick=timedelta(milliseconds=50),
            retry_base=timedelta(seconds=60),
            max_attempts=3,
            smtp_port=smtp.port,
            sms_url=http.url("/sms"),
        )
        settings.update(overrides)
        notify = InProcessNotify(NotifyConfig(**settings), clock)
        started.append(notify)
        return notify

    yield make
    for notify in started:
        notify.close()


def _promise(stub, case_id: str, due: datetime) -> str:
    return stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id, amount_minor=30_000, due_time=ts(due), payment_channel=pb.WECHAT_PAY
        )
    ).promise_id


def _by_channel(notify, case_id):
    return {pb.Channel.Name(r.channel): r for r in notify.reminders(case_id)}


def test_sms_reminder_falling_at_night_is_sent_at_eight_and_email_at_once(
    server, clock, start, sinks
):
    smtp, http = sinks
    notify = start()
    case = open_case(server.stub)
    # Due Tuesday 12:00; 14 h before is Monday 22:00, when SMS is not allowed in CN.
    _promise(server.stub, case.case_id, shanghai(24, 12))
    assert eventually(lambda: len(notify.reminders(case.case_id)) == 2)
    clock.set(shanghai(23, 22))
    shifted = eventually(
        lambda: (r := _by_channel(notify, case.case_id))["SMS"].reason.startswith("SHIFTED") and r
    )
    assert shifted["SMS"].reason == "SHIFTED:OUTSIDE_CONTACT_HOURS"
    assert shifted["SMS"].scheduled_for.ToDatetime(tzinfo=UTC) == shanghai(24, 8)
    assert eventually(
        lambda: _by_channel(notify, case.case_id)["EMAIL"].status == npb.Reminder.SENT
    )
    assert len(smtp.messages) == 1 and http.posted("/sms") == []
    clock.set(shanghai(24, 7, 59))
    time.sleep(0.3)
    assert http.posted("/sms") == []
    clock.set(shanghai(24, 8))
    assert eventually(lambda: http.posted("/sms"))
    sent = _by_channel(notify, case.case_id)["SMS"]
    assert sent.status == npb.Reminder.SENT
    assert [r["key"] for r in http.posted("/sms")] == [sent.reminder_id]
    # Both deliveries are contacts in the case's history, logged by notify once each.
    contacts = eventually(
        lambda: (
            [e for e in history(server.stub, case.case_id) if e.type == "ContactLogged"]
            if len([e for e in history(server.stub, case.case_id) if e.type == "ContactLogged"])
            == 2
            else None
        )
    )
    assert {e.actor for e in contacts} == {"notify"}
    assert sorted(e.request_id for e in contacts) == sorted(
        f"notify-reminder-{r.reminder_id}" for r in notify.reminders(case.case_id)
    )


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ("cease", "CEASE_REQUESTED"),
        ("dispute", "DISPUTE_OPEN"),
        ("hold", "HOLD_ACTIVE"),
        ("kept", "PROMISE_KEPT"),
    ],
)
def test_reminder_that_may_not_or_need_not_go_is_skipped_with_its_reason(
    server, clock, start, sinks, block, reason
):
    smtp, http = sinks
    notify = start(reminder_offsets=(timedelta(hours=2),))
    case = open_case(server.stub)
    _promise(server.stub, case.case_id, shanghai(23, 16))
    assert eventually(lambda: len(notify.reminders(case.case_id)) == 2)
    stub = server.stub
    if block == "cease":
        stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.SMS))
    elif block == "dispute":
        stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="not my card"))
    elif block == "hold":
        stub.PlaceHold(
            svc.PlaceHoldRequest(case_id=case.case_id, kind=pb.COMPLAINT, reason="complaint")
        )
    else:
        stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case.case_id, amount_minor=30_000, payment_reference="PAID-1"
            )
        )
    clock.set(shanghai(23, 14))
    settled = eventually(
        lambda: all(
            r.status in (npb.Reminder.SENT, npb.Reminder.SKIPPED)
            for r in notify.reminders(case.case_id)
        )
    )
    assert settled
    found = _by_channel(notify, case.case_id)
    assert found["SMS"].status == npb.Reminder.SKIPPED
    assert found["SMS"].reason.split(",")[0] == reason
    if block == "cease":  # only SMS was ceased: e-mail still goes
        assert found["EMAIL"].status == npb.Reminder.SENT and len(smtp.messages) == 1
    else:
        assert found["EMAIL"].status == npb.Reminder.SKIPPED and smtp.messages == []
    assert http.posted("/sms") == []


def test_gateway_outage_is_retried_with_backoff_and_delivered_once(server, clock, start, sinks):
    _, http = sinks
    http.fail_next = 2
    notify = start(reminder_offsets=(timedelta(hours=2),), reminder_channels=("SMS",))
    case = open_case(server.stub)
    _promise(server.stub, case.case_id, shanghai(23, 16))
    assert eventually(lambda: notify.reminders(case.case_id))
    clock.set(shanghai(23, 14))

    def retried(attempts):
        # attempts is counted when the send starts (SENDING); wait for the retry to be set.
        r = notify.reminders(case.case_id)[0]
        return r.attempts == attempts and r.status == npb.Reminder.SCHEDULED and r

    first = eventually(lambda: retried(1))
    assert first.scheduled_for.ToDatetime(tzinfo=UTC) == shanghai(23, 14, 1)  # +60 s
    clock.set(shanghai(23, 14, 1))
    second = eventually(lambda: retried(2))
    assert second.scheduled_for.ToDatetime(tzinfo=UTC) == shanghai(23, 14, 3)  # +120 s
    clock.set(shanghai(23, 14, 3))
    done = eventually(
        lambda: (r := notify.reminders(case.case_id)[0]).status == npb.Reminder.SENT and r
    )
    assert done.attempts == 3
    assert [r["key"] for r in http.posted("/sms")] == [done.reminder_id]


def test_gateway_rejecting_the_message_fails_it_without_retry(server, clock, start, sinks):
    _, http = sinks
    http.fail_next, http.fail_status = 1, 400
    notify = start(reminder_offsets=(timedelta(hours=2),), reminder_channels=("SMS",))
    case = open_case(server.stub)
    _promise(server.stub, case.case_id, shanghai(23, 16))
    assert eventually(lambda: notify.reminders(case.case_id))
    clock.set(shanghai(23, 14))
    failed = eventually(
        lambda: (r := notify.reminders(case.case_id)[0]).status == npb.Reminder.FAILED and r
    )
    assert (failed.attempts, failed.reason) == (1, "HTTP 400")
    clock.set(shanghai(23, 15))
    time.sleep(0.3)
    assert http.posted("/sms") == []


def test_unreachable_gateway_is_retried_up_to_the_limit_then_failed(server, clock, start):
    notify = start(
        reminder_offsets=(timedelta(hours=2),),
        reminder_channels=("SMS",),
        sms_url="http://127.0.0.1:9/sms",  # nothing listens there
        max_attempts=2,
    )
    case = open_case(server.stub)
    _promise(server.stub, case.case_id, shanghai(23, 16))
    assert eventually(lambda: notify.reminders(case.case_id))
    clock.set(shanghai(23, 14))
    assert eventually(lambda: notify.reminders(case.case_id)[0].attempts == 1)
    clock.set(shanghai(23, 14, 1))
    failed = eventually(
        lambda: (r := notify.reminders(case.case_id)[0]).status == npb.Reminder.FAILED and r
    )
    assert failed.attempts == 2
    assert failed.reason.startswith("HTTP unreachable")


def test_reminder_caught_mid_send_by_a_crash_is_never_sent_again(
    server, clock, start, sinks, notify_db
):
    smtp, _ = sinks
    notify = start(reminder_offsets=(timedelta(hours=2),), reminder_channels=("EMAIL",))
    case = open_case(server.stub)
    _promise(server.stub, case.case_id, shanghai(23, 16))
    (reminder,) = eventually(lambda: notify.reminders(case.case_id))
    notify.close()
    # As a crash between "SENDING" and "SENT" would leave it:
    from casebook_notify.store import NotifyStore

    store = NotifyStore(notify_db)
    with store.transaction() as connection:
        connection.execute(
            update(reminders)
            .where(reminders.c.reminder_id == reminder.reminder_id)
            .values(state="SENDING")
        )
    store.close()
    restarted = start(reminder_offsets=(timedelta(hours=2),), reminder_channels=("EMAIL",))
    clock.set(shanghai(23, 14, 30))
    time.sleep(0.5)
    (after,) = restarted.reminders(case.case_id)
    assert after.status == npb.Reminder.FAILED
    assert after.reason == "OUTCOME_UNKNOWN_AFTER_RESTART"
    assert smtp.messages == []


def test_promise_is_only_checked_after_its_grace_period(server, clock, start):
    notify = start(reminder_offsets=(), grace=timedelta(minutes=10))
    case = open_case(server.stub)
    promise_id = _promise(server.stub, case.case_id, shanghai(23, 16))
    assert eventually(lambda: notify.stub.ListAlerts(npb.ListAlertsRequest()) is not None)
    clock.set(shanghai(23, 16, 9))
    time.sleep(0.4)
    assert list(notify.stub.ListAlerts(npb.ListAlertsRequest()).alerts) == []
    clock.set(shanghai(23, 16, 10))
    alerts = eventually(lambda: list(notify.stub.ListAlerts(npb.ListAlertsRequest()).alerts))
    assert [a.promise_id for a in alerts] == [promise_id]
    assert alerts[0].unpaid_minor == 30_000
    shown = server.stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
    assert shown.promises[0].status == pb.Promise.BROKEN
