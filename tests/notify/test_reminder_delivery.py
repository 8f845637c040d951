"""Reminders go out inside the debtor's permitted hours, carry their stable id, and each one
delivered is logged once on the case."""

from __future__ import annotations

import json
from datetime import timedelta

from casebook.v1 import case_pb2 as pb
from casebook.v1 import notify_service_pb2 as npb
from tests.notify import harness
from tests.notify.harness import eventually, mail_text, shanghai, stamp, when

stack = harness.stack

SENT = npb.Reminder.SENT


def test_sms_reminder_due_at_night_is_shifted_to_eight_in_the_morning(stack):
    # Due Tuesday 12:00 Shanghai; 14 h before is Monday 22:00, when CN allows no SMS.
    notify = stack.start(reminder_offsets=(timedelta(hours=14),))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(24, 12))
    planned = eventually(when(lambda: notify.by_channel(case_id), lambda r: len(r) == 2))
    assert {stamp(r.scheduled_for) for r in planned.values()} == {shanghai(23, 22)}
    assert {r.status for r in planned.values()} == {npb.Reminder.SCHEDULED}

    stack.clock.set(shanghai(23, 22))
    sms = eventually(
        when(lambda: notify.by_channel(case_id)["SMS"], lambda r: r.reason.startswith("SHIFTED"))
    )
    assert sms.reason == "SHIFTED:OUTSIDE_CONTACT_HOURS"
    assert sms.status == npb.Reminder.SCHEDULED
    assert stamp(sms.scheduled_for) == shanghai(24, 8)
    assert sms.attempts == 0
    # E-mail has no contact hours: it goes out at 22:00 itself.
    email = eventually(
        when(lambda: notify.by_channel(case_id)["EMAIL"], lambda r: r.status == SENT)
    )
    assert stamp(email.sent_at) == shanghai(23, 22)
    assert len(stack.mails_for(email.reminder_id)) == 1
    assert stack.http.posted("/sms") == []

    stack.clock.set(shanghai(24, 7, 59, 59))
    notify.wait_ticks()
    assert notify.by_channel(case_id)["SMS"].status == npb.Reminder.SCHEDULED
    assert stack.http.posted("/sms") == []

    stack.clock.set(shanghai(24, 8))
    sms = eventually(when(lambda: notify.by_channel(case_id)["SMS"], lambda r: r.status == SENT))
    assert stamp(sms.sent_at) == shanghai(24, 8)
    assert sms.attempts == 1
    (posted,) = stack.http.posted("/sms")
    assert posted["key"] == sms.reminder_id
    assert posted["json"]["reminder_id"] == sms.reminder_id
    assert posted["json"]["to"] == "+8613800138000"
    assert "2026-11-24 12:00" in posted["json"]["text"]  # the due time, in Shanghai time


def test_email_reminder_carries_its_id_as_message_id_and_goes_to_the_debtor(stack):
    notify = stack.start(reminder_channels=("EMAIL",))
    case_id = stack.open_case(email="debtor@example.cn")
    stack.promise(case_id, shanghai(23, 16), amount=12_345)
    (planned,) = eventually(lambda: notify.reminders(case_id))
    stack.clock.set(shanghai(23, 14))
    eventually(when(lambda: notify.reminders(case_id)[0], lambda r: r.status == SENT))
    (mail,) = stack.smtp.messages
    assert mail["message_id"] == f"<{planned.reminder_id}@casebook>"
    assert mail["to"] == ["debtor@example.cn"]
    assert "123.45 CNY" in mail_text(mail) and "due by 2026-11-23 16:00" in mail_text(mail)


def test_each_delivered_reminder_is_logged_once_on_the_case_as_an_outbound_contact(stack):
    notify = stack.start(reminder_offsets=(timedelta(hours=4), timedelta(hours=2)))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 18))
    eventually(lambda: len(notify.reminders(case_id)) == 4)
    stack.clock.set(shanghai(23, 14))
    eventually(lambda: sum(r.status == SENT for r in notify.reminders(case_id)) == 2)
    stack.clock.set(shanghai(23, 16, 30))
    delivered = eventually(
        when(lambda: notify.reminders(case_id), lambda rs: all(r.status == SENT for r in rs))
    )
    eventually(lambda: len(stack.events(case_id, "ContactLogged")) == 4)
    notify.wait_ticks(4)  # later ticks must not log any of them again

    contacts = stack.events(case_id, "ContactLogged")
    assert len(contacts) == 4
    by_request = {e.request_id: e for e in contacts}
    assert set(by_request) == {f"notify-reminder-{r.reminder_id}" for r in delivered}
    for reminder in delivered:
        event = by_request[f"notify-reminder-{reminder.reminder_id}"]
        payload = json.loads(event.payload_json)
        assert event.actor == "notify"
        assert payload["channel"] == pb.Channel.Name(reminder.channel)
        assert payload["direction"] == "OUTBOUND"
        assert payload["outcome"] == "DELIVERED"
        assert payload["agent_id"] == "notify"
        assert stamp(event.occurred_at) == stamp(reminder.sent_at)
    assert sorted(json.loads(e.payload_json)["channel"] for e in contacts) == [
        "EMAIL",
        "EMAIL",
        "SMS",
        "SMS",
    ]
