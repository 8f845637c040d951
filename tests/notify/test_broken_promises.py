"""An unpaid promise is marked broken once its due time plus grace has passed; every
PromiseBroken, whoever caused it, raises exactly one BROKEN_PROMISE alert. Instalment plans
are checked per instalment."""

from __future__ import annotations

import json
from datetime import timedelta

from casebook.v1 import case_pb2 as pb
from casebook.v1 import notify_service_pb2 as npb
from casebook_common.timestamps import utc
from tests.notify import harness
from tests.notify.harness import eventually, mail_text, shanghai, stamp, when

stack = harness.stack

SENT, SKIPPED = npb.Reminder.SENT, npb.Reminder.SKIPPED


def _deadline(notify, case_id, index: int = 0):
    rows = notify.deadline_rows(case_id)
    return rows[index] if len(rows) > index else None


def test_unpaid_promise_is_broken_after_due_time_plus_grace_with_one_alert(stack):
    notify = stack.start(reminder_offsets=(), grace=timedelta(minutes=10))
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16), amount=30_000)
    stack.pay(case_id, 10_000)  # part paid: 200.00 stays unpaid
    eventually(lambda: _deadline(notify, case_id))

    stack.clock.set(shanghai(23, 16, 9, 59))
    notify.wait_ticks()
    assert notify.alerts() == []
    assert stack.promise_status(case_id, promise_id) == pb.Promise.OPEN
    deadline = _deadline(notify, case_id)
    assert (deadline.state, deadline.attempts) == ("PENDING", 0)

    stack.clock.set(shanghai(23, 16, 10))
    (alert,) = eventually(lambda: notify.alerts())
    assert alert.kind == npb.BROKEN_PROMISE
    assert (alert.case_id, alert.promise_id) == (case_id, promise_id)
    assert alert.unpaid_minor == 20_000
    assert stamp(alert.missed_due_time) == shanghai(23, 16)
    assert stamp(alert.raised_at) == shanghai(23, 16, 10)
    assert not alert.acknowledged and alert.acknowledged_by == ""
    assert stack.promise_status(case_id, promise_id) == pb.Promise.BROKEN
    (broken,) = stack.events(case_id, "PromiseBroken")
    assert broken.actor == "notify"
    assert broken.request_id == f"notify-broken-{promise_id}:0"
    assert json.loads(broken.payload_json)["unpaid_minor"] == 20_000

    eventually(lambda: _deadline(notify, case_id).state == "DONE")
    assert _deadline(notify, case_id).outcome == "BROKEN"
    stack.clock.set(shanghai(23, 18))
    notify.wait_ticks(4)
    assert [a.alert_id for a in notify.alerts()] == [alert.alert_id]
    assert len(stack.events(case_id, "PromiseBroken")) == 1


def test_without_grace_a_promise_is_not_broken_at_its_due_instant_but_just_after(stack):
    notify = stack.start(reminder_offsets=())
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: _deadline(notify, case_id))

    stack.clock.set(shanghai(23, 16))  # paying at 16:00 still keeps it: the case says not due
    retried = eventually(when(lambda: _deadline(notify, case_id), lambda d: d.attempts == 1))
    assert retried.state == "PENDING"
    assert utc(retried.fire_at) == shanghai(23, 16, 0, 1)
    assert notify.alerts() == []

    stack.clock.set(shanghai(23, 16, 0, 1))
    (alert,) = eventually(lambda: notify.alerts())
    assert alert.promise_id == promise_id
    assert stack.promise_status(case_id, promise_id) == pb.Promise.BROKEN


def test_promise_kept_before_its_due_time_raises_no_alert(stack):
    notify = stack.start(reminder_offsets=())
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16))
    stack.pay(case_id, 30_000)
    done = eventually(when(lambda: _deadline(notify, case_id), lambda d: d and d.state == "DONE"))
    assert done.outcome == "PROMISE_KEPT"
    stack.clock.set(shanghai(23, 17))
    notify.wait_ticks()
    assert notify.alerts() == []
    assert stack.promise_status(case_id, promise_id) == pb.Promise.KEPT


def test_promise_broken_by_a_collector_raises_one_alert_and_notify_does_not_break_it_again(stack):
    notify = stack.start(reminder_offsets=(), grace=timedelta(minutes=10))
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16), amount=30_000)
    eventually(lambda: _deadline(notify, case_id))

    stack.clock.set(shanghai(23, 16, 5))  # past due, inside notify's grace
    stack.mark_broken(case_id, promise_id, actor="agent-7")
    (alert,) = eventually(lambda: notify.alerts())
    assert (alert.promise_id, alert.unpaid_minor) == (promise_id, 30_000)
    assert stamp(alert.raised_at) == shanghai(23, 16, 5)
    ended = eventually(when(lambda: _deadline(notify, case_id), lambda d: d.state == "DONE"))
    assert ended.outcome == "PROMISE_BROKEN"  # the event ended notify's own deadline

    # Even if notify's deadline fires anyway (as if it had not seen the event yet), the case
    # keeps the promise as it is and no second alert is raised.
    notify.reopen_deadline(ended.deadline_id)
    stack.clock.set(shanghai(23, 16, 10))
    fired = eventually(when(lambda: _deadline(notify, case_id), lambda d: d.state == "DONE"))
    assert fired.outcome == "BROKEN"
    notify.wait_ticks(4)
    assert [a.alert_id for a in notify.alerts()] == [alert.alert_id]
    (broken,) = stack.events(case_id, "PromiseBroken")
    assert broken.actor == "agent-7"


def test_instalment_plan_is_reminded_per_instalment_and_broken_only_by_a_missed_one(stack):
    notify = stack.start()  # 2 h before each due time, SMS and e-mail
    case_id = stack.open_case()
    first_due, second_due = shanghai(24, 12), shanghai(25, 12)
    promise_id = stack.instalment_promise(case_id, (10_000, first_due), (20_000, second_due))
    planned = eventually(when(lambda: notify.reminders(case_id), lambda rs: len(rs) == 4))
    assert sorted((stamp(r.due_time), stamp(r.scheduled_for)) for r in planned) == [
        (first_due, first_due - timedelta(hours=2)),
        (first_due, first_due - timedelta(hours=2)),
        (second_due, second_due - timedelta(hours=2)),
        (second_due, second_due - timedelta(hours=2)),
    ]
    assert len(notify.deadline_rows(case_id)) == 2

    stack.pay(case_id, 10_000)  # the first instalment, early
    stack.clock.set(shanghai(24, 10))
    first = eventually(
        when(
            lambda: [r for r in notify.reminders(case_id) if stamp(r.due_time) == first_due],
            lambda rs: all(r.status == SKIPPED for r in rs),
        )
    )
    assert {r.reason for r in first} == {"INSTALMENT_PAID"}
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []

    stack.clock.set(shanghai(24, 12, 0, 1))
    covered = eventually(when(lambda: _deadline(notify, case_id, 0), lambda d: d.state == "DONE"))
    assert covered.outcome == "COVERED"
    assert stack.promise_status(case_id, promise_id) == pb.Promise.OPEN
    assert notify.alerts() == []

    stack.clock.set(shanghai(25, 10))
    second = eventually(
        when(
            lambda: [r for r in notify.reminders(case_id) if stamp(r.due_time) == second_due],
            lambda rs: all(r.status == SENT for r in rs),
        )
    )
    assert len(second) == 2 and len(stack.smtp.messages) == 1
    assert len(stack.http.posted("/sms")) == 1

    stack.clock.set(shanghai(25, 12, 0, 1))
    (alert,) = eventually(lambda: notify.alerts())
    assert alert.promise_id == promise_id
    assert stamp(alert.missed_due_time) == second_due
    assert alert.unpaid_minor == 20_000
    assert stack.promise_status(case_id, promise_id) == pb.Promise.BROKEN
    eventually(lambda: _deadline(notify, case_id, 1).outcome == "BROKEN")


def test_missing_the_first_instalment_breaks_the_plan_and_ends_the_later_reminders(stack):
    notify = stack.start()
    case_id = stack.open_case()
    first_due, second_due = shanghai(24, 12), shanghai(25, 12)
    promise_id = stack.instalment_promise(case_id, (10_000, first_due), (20_000, second_due))
    eventually(lambda: len(notify.reminders(case_id)) == 4)
    stack.clock.set(shanghai(24, 12, 0, 1))
    (alert,) = eventually(lambda: notify.alerts())
    assert (alert.promise_id, alert.unpaid_minor) == (promise_id, 10_000)
    assert stamp(alert.missed_due_time) == first_due
    later = eventually(
        when(
            lambda: [r for r in notify.reminders(case_id) if stamp(r.due_time) == second_due],
            lambda rs: all(r.status == SKIPPED for r in rs),
        )
    )
    assert {r.reason for r in later} == {"PROMISE_BROKEN"}
    assert [d.outcome for d in notify.deadline_rows(case_id)] == ["BROKEN", "PROMISE_BROKEN"]


def test_reminder_of_an_instalment_names_that_instalment_amount(stack):
    # 100.00 is due on Tuesday and 200.00 on Wednesday: Tuesday's reminder must not tell the
    # debtor that 300.00 is due on Tuesday.
    notify = stack.start(reminder_channels=("EMAIL",))
    case_id = stack.open_case()
    stack.instalment_promise(case_id, (10_000, shanghai(24, 12)), (20_000, shanghai(25, 12)))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    stack.clock.set(shanghai(24, 10))
    (mail,) = eventually(lambda: stack.smtp.messages)
    text = mail_text(mail)
    assert "due by 2026-11-24 12:00" in text
    assert "100.00 CNY" in text, text
