"""Transient delivery failures are retried with exponential backoff on business time, up to
max_attempts; permanent ones fail the reminder at once. A reminder is delivered at most once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from casebook.v1 import notify_service_pb2 as npb
from tests.notify import harness
from tests.notify.harness import eventually, free_port, shanghai, stamp, when

stack = harness.stack

SCHEDULED, SENT, FAILED = npb.Reminder.SCHEDULED, npb.Reminder.SENT, npb.Reminder.FAILED


def _one_reminder(stack, channel: str, **overrides):
    """A notify reminding 2 h ahead on one channel; a promise due Monday 16:00 Shanghai."""
    notify = stack.start(reminder_channels=(channel,), **overrides)
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: notify.reminders(case_id))
    return notify, case_id


def _reminder(notify, case_id, condition):
    """The case's one reminder once it satisfies `condition` and is not being sent."""
    return eventually(
        when(
            lambda: notify.reminders(case_id)[0],
            lambda r: r.status != npb.Reminder.SENDING and condition(r),
        )
    )


def test_sms_gateway_answering_503_twice_is_retried_with_backoff_then_sent_once(stack):
    stack.http.fail_next = 2
    notify, case_id = _one_reminder(stack, "SMS")

    stack.clock.set(shanghai(23, 14))
    first = _reminder(notify, case_id, lambda r: r.attempts == 1)
    assert (first.status, first.reason) == (SCHEDULED, "RETRY:HTTP 503")
    assert stamp(first.scheduled_for) == shanghai(23, 14, 1)  # + retry_base (60 s)

    stack.clock.set(shanghai(23, 14, 1))
    second = _reminder(notify, case_id, lambda r: r.attempts == 2)
    assert (second.status, second.reason) == (SCHEDULED, "RETRY:HTTP 503")
    assert stamp(second.scheduled_for) == shanghai(23, 14, 3)  # + 2 x retry_base

    stack.clock.set(shanghai(23, 14, 2, 59))
    notify.wait_ticks()
    assert notify.reminders(case_id)[0].attempts == 2  # not before its time

    stack.clock.set(shanghai(23, 14, 3))
    sent = _reminder(notify, case_id, lambda r: r.status == SENT)
    assert sent.attempts == 3 and sent.reason == ""
    assert stamp(sent.sent_at) == shanghai(23, 14, 3)
    assert stack.http.fail_next == 0  # both 503s were used up ...
    assert len(stack.sms_for(sent.reminder_id)) == 1  # ... and one message accepted
    stack.clock.set(shanghai(23, 15))
    notify.wait_ticks()
    assert len(stack.http.posted("/sms")) == 1


def test_sms_gateway_throttling_with_429_is_retried_not_failed(stack):
    stack.http.fail_next, stack.http.fail_status = 1, 429
    notify, case_id = _one_reminder(stack, "SMS")
    stack.clock.set(shanghai(23, 14))
    retrying = _reminder(notify, case_id, lambda r: r.attempts == 1)
    assert (retrying.status, retrying.reason) == (SCHEDULED, "RETRY:HTTP 429")
    stack.clock.set(shanghai(23, 14, 1))
    assert _reminder(notify, case_id, lambda r: r.status == SENT).attempts == 2


@pytest.mark.parametrize("status", [400, 404])
def test_sms_gateway_rejecting_the_message_fails_it_at_once_without_retry(stack, status):
    stack.http.fail_next, stack.http.fail_status = 1, status
    notify, case_id = _one_reminder(stack, "SMS")
    stack.clock.set(shanghai(23, 14))
    failed = _reminder(notify, case_id, lambda r: r.status == FAILED)
    assert (failed.attempts, failed.reason) == (1, f"HTTP {status}")
    stack.http.fail_next = 0
    stack.clock.set(shanghai(23, 15, 59))  # well past any retry time, before the due time
    notify.wait_ticks()
    assert notify.reminders(case_id)[0].attempts == 1
    assert stack.http.posted("/sms") == []


def test_email_reminder_with_smtp_server_stopped_is_retried_until_max_attempts_then_failed(stack):
    notify, case_id = _one_reminder(stack, "EMAIL", max_attempts=3)
    stack.smtp.stop()

    stack.clock.set(shanghai(23, 14))
    first = _reminder(notify, case_id, lambda r: r.attempts == 1)
    assert first.status == SCHEDULED
    assert first.reason == "RETRY:SMTP unreachable: ConnectionRefusedError"
    assert stamp(first.scheduled_for) == shanghai(23, 14, 1)

    stack.clock.set(shanghai(23, 14, 1))
    second = _reminder(notify, case_id, lambda r: r.attempts == 2)
    assert second.status == SCHEDULED
    assert stamp(second.scheduled_for) == shanghai(23, 14, 3)

    stack.clock.set(shanghai(23, 14, 3))
    failed = _reminder(notify, case_id, lambda r: r.status == FAILED)
    assert failed.attempts == 3
    assert failed.reason == "SMTP unreachable: ConnectionRefusedError"
    stack.clock.set(shanghai(23, 15, 30))
    notify.wait_ticks()
    assert notify.reminders(case_id)[0].attempts == 3  # given up: no fourth attempt


class _RefusingSmtp:
    """An SMTP server that answers RCPT TO with a fixed reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.refused: list[str] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.refused.append(address)
        return self.reply

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def refusing_smtp(request):
    server = _RefusingSmtp(request.param)
    yield server
    server.stop()


@pytest.mark.parametrize("refusing_smtp", ["550 5.1.1 mailbox unavailable"], indirect=True)
def test_email_reminder_refused_permanently_by_smtp_fails_at_once(stack, refusing_smtp):
    notify, case_id = _one_reminder(stack, "EMAIL", smtp_port=refusing_smtp.port)
    stack.clock.set(shanghai(23, 14))
    failed = _reminder(notify, case_id, lambda r: r.status == FAILED)
    assert (failed.attempts, failed.reason) == (1, "recipient refused")
    stack.clock.set(shanghai(23, 15))
    notify.wait_ticks()
    assert refusing_smtp.refused == ["li.lei@example.cn"]


@pytest.mark.parametrize("refusing_smtp", ["451 4.3.0 try again later"], indirect=True)
def test_email_reminder_refused_temporarily_by_smtp_is_retried(stack, refusing_smtp):
    notify, case_id = _one_reminder(stack, "EMAIL", smtp_port=refusing_smtp.port, max_attempts=2)
    stack.clock.set(shanghai(23, 14))
    # 4xx is SMTP's "try again later" (greylisting, a full mailbox): not a permanent failure.
    retrying = _reminder(notify, case_id, lambda r: r.attempts == 1)
    assert (npb.Reminder.Status.Name(retrying.status), retrying.reason.split(":")[0]) == (
        "SCHEDULED",
        "RETRY",
    ), retrying.reason
    stack.clock.set(shanghai(23, 14) + timedelta(seconds=60))
    failed = _reminder(notify, case_id, lambda r: r.status == FAILED)
    assert failed.attempts == 2
    assert refusing_smtp.refused == ["li.lei@example.cn"] * 2
