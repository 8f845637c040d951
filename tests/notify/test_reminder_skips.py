"""A reminder that may not go (cease, dispute, hold, no address) or need not go (promise kept,
superseded, instalment paid, due time passed) is skipped, and ListReminders says why."""

from __future__ import annotations

import uuid
from datetime import timedelta

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2 as npb
from tests.notify import harness
from tests.notify.harness import eventually, shanghai, stamp, when
from tests.support import ts

stack = harness.stack

SENT, SKIPPED = npb.Reminder.SENT, npb.Reminder.SKIPPED
DONE = {npb.Reminder.SENT, npb.Reminder.SKIPPED, npb.Reminder.FAILED}


def _settled(notify, case_id):
    """The reminders of a case once none is waiting or being sent any more."""
    return eventually(
        when(lambda: notify.by_channel(case_id), lambda r: {x.status for x in r.values()} <= DONE)
    )


def _case_with_reminders_at_two(stack, **open_case):
    """A notify reminding 2 h ahead by SMS and e-mail; a case with a promise due Monday
    16:00 Shanghai, so both reminders fall due at 14:00 (inside contact hours)."""
    notify = stack.start()
    case_id = stack.open_case(**open_case)
    promise_id = stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    return notify, case_id, promise_id


def test_sms_reminder_after_an_sms_cease_request_is_skipped_but_the_email_goes(stack):
    notify, case_id, _ = _case_with_reminders_at_two(stack)
    stack.cases.RecordCeaseRequest(
        svc.RecordCeaseRequestRequest(case_id=case_id, request_id="cease-1", channel=pb.SMS)
    )
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert (found["SMS"].status, found["SMS"].reason) == (SKIPPED, "CEASE_REQUESTED")
    assert found["EMAIL"].status == SENT
    assert len(stack.mails_for(found["EMAIL"].reminder_id)) == 1
    assert stack.http.posted("/sms") == []


def test_reminders_while_a_dispute_is_open_are_skipped(stack):
    notify, case_id, _ = _case_with_reminders_at_two(stack)
    stack.cases.RaiseDispute(
        svc.RaiseDisputeRequest(case_id=case_id, request_id="dispute-1", reason="not my card")
    )
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert {(r.status, r.reason) for r in found.values()} == {(SKIPPED, "DISPUTE_OPEN")}
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []


def test_reminders_while_a_hold_without_end_is_active_are_skipped(stack):
    notify, case_id, _ = _case_with_reminders_at_two(stack)
    stack.cases.PlaceHold(
        svc.PlaceHoldRequest(
            case_id=case_id, request_id="hold-1", kind=pb.COMPLAINT, reason="complaint"
        )
    )
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert {(r.status, r.reason) for r in found.values()} == {(SKIPPED, "HOLD_ACTIVE")}
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []


def test_reminder_blocked_by_a_hold_ending_before_the_due_time_is_not_called_too_late(stack):
    # The hold ends at 15:00, an hour before the 16:00 due time. The reminder is skipped for
    # the hold; ",TOO_LATE" is only for a next permitted time after the due time.
    notify, case_id, _ = _case_with_reminders_at_two(stack)
    stack.cases.PlaceHold(
        svc.PlaceHoldRequest(
            case_id=case_id,
            request_id="hold-1",
            kind=pb.HARDSHIP,
            reason="hardship review",
            until=ts(shanghai(23, 15)),
        )
    )
    check = stack.cases.CheckContactPermitted(
        svc.CheckContactPermittedRequest(case_id=case_id, channel=pb.EMAIL, at=ts(shanghai(23, 14)))
    )
    assert list(check.reasons) == ["HOLD_ACTIVE"]
    assert stamp(check.next_permitted_time) == shanghai(23, 15)  # before the due time
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []
    assert {(r.status, r.reason) for r in found.values()} == {(SKIPPED, "HOLD_ACTIVE")}


def test_reminders_of_a_promise_kept_meanwhile_are_skipped(stack):
    notify, case_id, _ = _case_with_reminders_at_two(stack)
    stack.pay(case_id, 30_000)
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert {(r.status, r.reason) for r in found.values()} == {(SKIPPED, "PROMISE_KEPT")}
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []


def test_reminders_of_a_superseded_promise_are_skipped_and_the_new_promise_gets_its_own(stack):
    notify, case_id, old_promise = _case_with_reminders_at_two(stack)
    new_promise = stack.cases.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            request_id=uuid.uuid4().hex,
            amount_minor=20_000,
            due_time=ts(shanghai(23, 20)),
            payment_channel=pb.ALIPAY,
            replaces_promise_id=old_promise,
        )
    ).promise_id
    eventually(lambda: len(notify.reminders(case_id)) == 4)
    old = eventually(
        when(
            lambda: [r for r in notify.reminders(case_id) if r.promise_id == old_promise],
            lambda rs: all(r.status == SKIPPED for r in rs),
        )
    )
    assert {r.reason for r in old} == {"PROMISE_SUPERSEDED"}
    stack.clock.set(shanghai(23, 18))
    new = eventually(
        when(
            lambda: [r for r in notify.reminders(case_id) if r.promise_id == new_promise],
            lambda rs: len(rs) == 2 and all(r.status == SENT for r in rs),
        )
    )
    assert {stamp(r.due_time) for r in new} == {shanghai(23, 20)}
    assert len(stack.smtp.messages) == 1 and len(stack.http.posted("/sms")) == 1


def test_sms_reminder_that_could_only_go_after_the_due_time_is_skipped_as_too_late(stack):
    # Due Tuesday 07:00; 2 h before is 05:00, and SMS may not go before 08:00: too late.
    notify = stack.start()
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(24, 7))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    stack.clock.set(shanghai(24, 5))
    found = _settled(notify, case_id)
    assert found["SMS"].status == SKIPPED
    assert found["SMS"].reason == "OUTSIDE_CONTACT_HOURS,TOO_LATE"
    assert found["EMAIL"].status == SENT
    assert stamp(found["EMAIL"].sent_at) == shanghai(24, 5)
    assert stack.http.posted("/sms") == []


def test_email_reminder_to_a_debtor_without_email_address_is_skipped_and_the_sms_goes(stack):
    notify, case_id, _ = _case_with_reminders_at_two(stack, email="")
    stack.clock.set(shanghai(23, 14))
    found = _settled(notify, case_id)
    assert (found["EMAIL"].status, found["EMAIL"].reason) == (SKIPPED, "NO_ADDRESS")
    assert found["SMS"].status == SENT
    assert stack.smtp.messages == []
    assert [r["key"] for r in stack.http.posted("/sms")] == [found["SMS"].reminder_id]


def test_reminder_whose_due_time_passed_before_it_could_go_is_skipped(stack):
    # Grace keeps the deadline out of the way: only the reminder is looked at.
    notify = stack.start(grace=timedelta(hours=1))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    stack.clock.set(shanghai(23, 16, 30))
    found = _settled(notify, case_id)
    assert {(r.status, r.reason) for r in found.values()} == {(SKIPPED, "DUE_TIME_PASSED")}
    assert stack.smtp.messages == [] and stack.http.posted("/sms") == []


def test_reminder_time_already_past_when_the_promise_is_recorded_is_skipped_at_once(stack):
    notify = stack.start(reminder_offsets=(timedelta(hours=3), timedelta(hours=1)))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 12))  # recorded at 10:00: 09:00 has passed
    found = eventually(when(lambda: notify.reminders(case_id), lambda rs: len(rs) == 4))
    late = [r for r in found if stamp(r.scheduled_for) == shanghai(23, 9)]
    assert {(r.status, r.reason) for r in late} == {
        (SKIPPED, "TIME_PASSED_BEFORE_PROMISE_RECORDED")
    }
    due = [r for r in found if stamp(r.scheduled_for) == shanghai(23, 11)]
    assert {r.status for r in due} == {npb.Reminder.SCHEDULED} and len(due) == 2
