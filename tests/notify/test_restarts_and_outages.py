"""Crash safety and outages: a reminder caught mid-send is never sent again; what fell due
while notify was down is done once on restart; while the case service is away notify keeps
retrying with backoff and loses nothing."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import update

from casebook.v1 import case_pb2 as pb
from casebook.v1 import notify_service_pb2 as npb
from casebook_common.timestamps import utc
from casebook_notify.store import NotifyStore, reminders
from tests.notify import harness
from tests.notify.harness import eventually, free_port, shanghai, stamp, when
from tests.support import fresh_postgres_database, postgres_available

stack = harness.stack

SCHEDULED, SENT, FAILED = npb.Reminder.SCHEDULED, npb.Reminder.SENT, npb.Reminder.FAILED


def _all_settled(notify, case_id):
    return eventually(
        when(
            lambda: notify.by_channel(case_id),
            lambda r: all(x.status in (SENT, FAILED, npb.Reminder.SKIPPED) for x in r.values()),
        )
    )


def test_reminder_caught_mid_send_is_failed_as_outcome_unknown_and_never_sent(stack):
    notify = stack.start()
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    email = eventually(lambda: notify.by_channel(case_id).get("EMAIL"))
    notify.set_reminder_state(email.reminder_id, "SENDING")  # as a crash mid-send leaves it

    assert notify.scheduler.recover_after_restart() == 1
    stack.clock.set(shanghai(23, 14))
    found = _all_settled(notify, case_id)
    assert found["EMAIL"].status == FAILED
    assert found["EMAIL"].reason == "OUTCOME_UNKNOWN_AFTER_RESTART"
    assert found["SMS"].status == SENT  # the other reminder is untouched
    stack.clock.set(shanghai(23, 15, 59))
    notify.wait_ticks(4)
    assert stack.smtp.messages == []
    assert notify.by_channel(case_id)["EMAIL"].attempts == 0
    requests = {e.request_id for e in stack.events(case_id, "ContactLogged")}
    assert f"notify-reminder-{email.reminder_id}" not in requests
    assert notify.scheduler.recover_after_restart() == 0


def test_restarted_notify_fails_only_the_reminder_left_sending(stack):
    notify = stack.start()
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    sms = eventually(lambda: notify.by_channel(case_id).get("SMS"))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    notify.close()
    store = NotifyStore(stack.notify_db)
    with store.transaction() as connection:
        connection.execute(
            update(reminders)
            .where(reminders.c.reminder_id == sms.reminder_id)
            .values(state="SENDING", attempts=1)
        )
    store.close()

    restarted = stack.start()
    stack.clock.set(shanghai(23, 14))
    found = _all_settled(restarted, case_id)
    assert (found["SMS"].status, found["SMS"].reason) == (FAILED, "OUTCOME_UNKNOWN_AFTER_RESTART")
    assert found["SMS"].attempts == 1
    assert found["EMAIL"].status == SENT
    restarted.wait_ticks(4)
    assert stack.http.posted("/sms") == []
    assert len(stack.smtp.messages) == 1


def test_delivered_reminder_logged_again_after_a_crash_appears_once_on_the_case(stack):
    notify = stack.start(reminder_channels=("EMAIL",))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    stack.clock.set(shanghai(23, 14))
    (sent,) = eventually(
        when(lambda: notify.reminders(case_id), lambda rs: rs and rs[0].status == SENT)
    )
    eventually(lambda: stack.events(case_id, "ContactLogged"))
    notify.close()
    # A crash after LogContact but before "logged" was committed:
    store = NotifyStore(stack.notify_db)
    with store.transaction() as connection:
        connection.execute(
            update(reminders)
            .where(reminders.c.reminder_id == sent.reminder_id)
            .values(logged_on_case=False)
        )
    store.close()

    restarted = stack.start(reminder_channels=("EMAIL",))
    eventually(
        lambda: restarted.store.rows(reminders.select().where(reminders.c.logged_on_case.is_(True)))
    )
    restarted.wait_ticks(2)
    (contact,) = stack.events(case_id, "ContactLogged")
    assert contact.request_id == f"notify-reminder-{sent.reminder_id}"
    assert len(stack.smtp.messages) == 1


def test_what_fell_due_while_notify_was_down_is_done_once_on_restart(stack):
    notify = stack.start(grace=timedelta(minutes=10))
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    notify.close()

    stack.clock.set(shanghai(23, 15))  # the 14:00 reminders fell due while notify was down
    notify = stack.start(grace=timedelta(minutes=10))
    found = _all_settled(notify, case_id)
    assert {r.status for r in found.values()} == {SENT}
    assert {stamp(r.sent_at) for r in found.values()} == {shanghai(23, 15)}
    notify.close()

    stack.clock.set(shanghai(23, 17))  # and so did the deadline
    notify = stack.start(grace=timedelta(minutes=10))
    (alert,) = eventually(lambda: notify.alerts())
    assert alert.promise_id == promise_id
    notify.wait_ticks(4)
    assert len(notify.alerts()) == 1
    assert len(stack.smtp.messages) == 1 and len(stack.http.posted("/sms")) == 1
    assert stack.promise_status(case_id, promise_id) == pb.Promise.BROKEN


def test_while_the_case_service_is_unreachable_notify_retries_with_backoff_and_loses_nothing(
    stack,
):
    nowhere = f"127.0.0.1:{free_port()}"
    notify = stack.start()
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    eventually(lambda: notify.deadline_rows(case_id))
    notify.close()

    # Reminders cannot be checked against the case: they wait, nothing is sent.
    cut_off = stack.start(case_address=nowhere)
    stack.clock.set(shanghai(23, 14))
    waiting = eventually(
        when(
            lambda: cut_off.by_channel(case_id),
            lambda r: all(x.reason.startswith("CASE_SERVICE_") for x in r.values()),
        )
    )
    for reminder in waiting.values():
        assert (reminder.status, reminder.reason) == (SCHEDULED, "CASE_SERVICE_UNAVAILABLE")
        assert stamp(reminder.scheduled_for) == shanghai(23, 14, 1)
        assert reminder.attempts == 0
    cut_off.close()

    back = stack.start()
    stack.clock.set(shanghai(23, 14, 1))
    found = _all_settled(back, case_id)
    assert {r.status for r in found.values()} == {SENT}
    assert len(stack.smtp.messages) == 1 and len(stack.http.posted("/sms")) == 1
    back.close()

    # The deadline cannot be checked either: retried with a doubling delay.
    cut_off = stack.start(case_address=nowhere)
    stack.clock.set(shanghai(23, 16, 0, 1))
    first = eventually(when(lambda: cut_off.deadline_rows(case_id)[0], lambda d: d.attempts == 1))
    assert (first.state, utc(first.fire_at)) == ("PENDING", shanghai(23, 16, 1, 1))
    stack.clock.set(shanghai(23, 16, 1, 1))
    second = eventually(when(lambda: cut_off.deadline_rows(case_id)[0], lambda d: d.attempts == 2))
    assert (second.state, utc(second.fire_at)) == ("PENDING", shanghai(23, 16, 3, 1))
    assert cut_off.alerts() == []
    cut_off.close()

    back = stack.start()
    back.wait_ticks()
    assert back.alerts() == []  # not before the retry time
    stack.clock.set(shanghai(23, 16, 3, 1))
    (alert,) = eventually(lambda: back.alerts())
    assert alert.promise_id == promise_id
    assert stamp(alert.missed_due_time) == shanghai(23, 16)
    back.wait_ticks(4)
    assert len(back.alerts()) == 1
    assert len(stack.smtp.messages) == 1 and len(stack.http.posted("/sms")) == 1


def test_notify_processes_starting_together_on_an_empty_postgres_all_start():
    """Two notify replicas share one database: creating its tables takes turns (two CREATE
    TABLEs racing fail even after checking first)."""
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    with fresh_postgres_database() as url:
        start = threading.Barrier(4)

        def replica(_: int) -> NotifyStore:
            start.wait(30)
            return NotifyStore(url)

        with ThreadPoolExecutor(4) as pool:
            stores = list(pool.map(replica, range(4)))
        try:
            assert all(store.position("cases") == 0 for store in stores)
        finally:
            for store in stores:
                store.close()
