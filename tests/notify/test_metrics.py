"""The notify service's Prometheus endpoint, scraped over real HTTP while the real notify
runs on the manual clock: reminders and deliveries by channel, one alert per broken promise,
pending and overdue deadlines, the follower's position, and every NotifyService call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest

from casebook.v1 import notify_service_pb2 as npb
from casebook_notify.config import ConfigError, NotifyConfig
from tests.notify import harness
from tests.notify.harness import Notify, eventually, shanghai, when
from tests.scrape import Scrape, scrape
from tests.support import refused

stack = harness.stack

NOTIFY = "casebook.v1.NotifyService"
SENT, FAILED = npb.Reminder.SENT, npb.Reminder.FAILED


def start(stack: Any, **overrides: Any) -> Notify:
    return stack.start(metrics_listen="127.0.0.1:0", **overrides)


def metrics(notify: Notify) -> Scrape:
    return scrape(notify.running.metrics_port)


def reminder_counts(page: Scrape) -> dict[tuple[str, str], float]:
    found = {}
    for labels in page.labels("casebook_notify_reminders_total"):
        value = page.value("casebook_notify_reminders_total", **labels)
        if value:
            found[(labels["channel"], labels["outcome"])] = value
    return found


def test_a_reminder_sent_and_one_failed_are_counted_by_channel(stack):
    stack.http.fail_next, stack.http.fail_status = 1, 400  # the gateway rejects the SMS
    notify = start(stack)
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))  # reminders at 14:00
    eventually(lambda: len(notify.reminders(case_id)) == 2)
    assert reminder_counts(metrics(notify)) == {}

    stack.clock.set(shanghai(23, 14))
    eventually(
        when(
            lambda: notify.by_channel(case_id),
            lambda r: (r["SMS"].status, r["EMAIL"].status) == (FAILED, SENT),
        )
    )
    # The scheduler counts a tick's outcomes after committing them: the page may lag a little.
    page = eventually(
        when(
            lambda: metrics(notify),
            lambda page: reminder_counts(page) == {("sms", "failed"): 1, ("email", "sent"): 1},
        )
    )
    deliveries = "casebook_notify_deliveries_total"
    assert page.value(deliveries, channel="sms", result="permanent_failure") == 1
    assert page.value(deliveries, channel="email", result="delivered") == 1
    assert page.total(deliveries) == 2
    for channel in ("sms", "email"):
        timed = "casebook_notify_delivery_duration_seconds_count"
        assert page.value(timed, channel=channel) == 1
    assert case_id not in page.text


def test_a_transient_failure_counts_a_retry_then_the_delivery(stack):
    stack.http.fail_next = 1  # one 503
    notify = start(stack, reminder_channels=("SMS",))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: notify.reminders(case_id))
    stack.clock.set(shanghai(23, 14))
    eventually(when(lambda: notify.reminders(case_id)[0], lambda r: r.attempts == 1))
    stack.clock.set(shanghai(23, 14) + harness.RETRY_BASE)
    eventually(when(lambda: notify.reminders(case_id)[0], lambda r: r.status == SENT))
    # The scheduler counts a tick's outcomes after committing them: the page may lag a little.
    page = eventually(
        when(
            lambda: metrics(notify),
            lambda page: reminder_counts(page) == {("sms", "retry"): 1, ("sms", "sent"): 1},
        )
    )
    deliveries = "casebook_notify_deliveries_total"
    assert page.value(deliveries, channel="sms", result="transient_failure") == 1
    assert page.value(deliveries, channel="sms", result="delivered") == 1


def test_a_broken_promise_raises_one_alert_counted_once(stack):
    notify = start(stack, reminder_offsets=())
    case_id = stack.open_case()
    promise_id = stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: notify.deadline_rows(case_id))
    raised = "casebook_notify_alerts_raised_total"
    assert metrics(notify).value(raised, kind="BROKEN_PROMISE") == 0

    stack.clock.set(shanghai(23, 16, 1))  # a second after the due time
    eventually(lambda: notify.alerts(case_id=case_id))
    stack.mark_broken(case_id, promise_id)  # a no-op now: no second PromiseBroken
    stack.clock.set(shanghai(23, 18))
    notify.wait_ticks(4)
    head = stack.server.app.head_position()
    page = eventually(
        lambda: (p := metrics(notify)).value("casebook_notify_follower_position") == head and p,
        what="the follower at the head of the case log",
    )
    assert page.value(raised, kind="BROKEN_PROMISE") == 1
    assert page.value("casebook_notify_follower_lag_seconds") == 0
    assert page.value("casebook_notify_deadlines_pending") == 0
    assert page.value("casebook_notify_leader") == 1
    assert case_id not in page.text and promise_id not in page.text


def test_of_two_notify_services_on_one_database_one_says_it_leads(stack):
    first = start(stack, standby_poll=timedelta(milliseconds=100))
    second = start(stack, standby_poll=timedelta(milliseconds=100))
    leading = [metrics(n).value("casebook_notify_leader") for n in (first, second)]
    assert sorted(leading) == [0, 1]
    standby = (first, second)[leading.index(0)]
    assert metrics(standby).value("casebook_notify_deadlines_pending") == 0  # it reads the store


def test_pending_deadlines_go_up_with_promises_and_down_when_they_resolve(stack):
    notify = start(stack, reminder_offsets=())
    pending = "casebook_notify_deadlines_pending"

    def pending_becomes(count: int) -> None:
        eventually(lambda: metrics(notify).value(pending) == count, what=f"{count} pending")

    pending_becomes(0)
    kept = stack.open_case()
    stack.promise(kept, shanghai(23, 16), amount=30_000)
    pending_becomes(1)
    planned = stack.open_case()
    stack.instalment_promise(planned, (10_000, shanghai(24, 16)), (10_000, shanghai(25, 16)))
    pending_becomes(3)
    stack.pay(kept, 30_000)  # PromiseKept
    pending_becomes(2)
    stack.clock.set(shanghai(24, 16, 1))  # the first instalment unpaid: the plan is broken
    pending_becomes(0)
    assert metrics(notify).value("casebook_notify_deadlines_overdue_seconds") == 0


def test_a_deadline_the_scheduler_has_not_reached_shows_how_overdue_it_is(stack):
    notify = start(stack, reminder_offsets=(), tick=timedelta(hours=1))  # ticks once, at start
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 16))
    eventually(lambda: notify.deadline_rows(case_id))
    page = metrics(notify)
    assert page.value("casebook_notify_deadlines_overdue_seconds") == 0
    stack.clock.set(shanghai(23, 16, 5))
    page = metrics(notify)
    assert page.value("casebook_notify_deadlines_overdue_seconds") == 300
    assert page.value("casebook_notify_deadlines_pending") == 1


def test_every_notify_call_is_counted_by_method_and_status_code(stack):
    notify = start(stack)
    stub = notify.stub
    stub.ListAlerts(npb.ListAlertsRequest())
    refused(lambda: stub.ListAlerts(npb.ListAlertsRequest(page_size=-1)),
            grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
    refused(
        lambda: stub.AcknowledgeAlert(npb.AcknowledgeAlertRequest(alert_id="nope", agent_id="a")),
        grpc.StatusCode.NOT_FOUND,
    )
    undecodable = notify.channel.unary_unary(f"/{NOTIFY}/ListReminders")
    refused(lambda: undecodable(b"\xff\xff\xff", timeout=5), grpc.StatusCode.INVALID_ARGUMENT)
    watching = notify.watching(npb.WatchAlertsRequest())  # a stream, open until cancelled
    watching.cancel()

    def handled(method: str) -> dict[str, float]:
        page = metrics(notify)
        return {
            labels["grpc_code"]: page.value("casebook_rpc_handled_total", **labels)
            for labels in page.labels("casebook_rpc_handled_total")
            if labels["grpc_service"] == NOTIFY and labels["grpc_method"] == method
        }

    assert handled("ListAlerts") == {"OK": 1, "INVALID_ARGUMENT": 1}
    assert handled("AcknowledgeAlert") == {"NOT_FOUND": 1}
    assert handled("ListReminders") == {"INVALID_ARGUMENT": 1}
    eventually(lambda: handled("WatchAlerts") == {"CANCELLED": 1}, what="the stream counted")
    page = metrics(notify)
    timed = "casebook_rpc_duration_seconds_count"
    assert page.value(timed, grpc_service=NOTIFY, grpc_method="ListAlerts") == 2


def test_notify_without_a_metrics_address_serves_none(stack):
    notify = stack.start()
    assert notify.running.metrics_server is None and notify.running.metrics_port == 0


@pytest.mark.parametrize("value", ["9465", "[::1]", "host:port"])
def test_a_bad_notify_metrics_address_is_refused_at_start(value):
    base = {"CASEBOOK_NOTIFY_REMINDER_CHANNELS": "EMAIL"}
    with pytest.raises(ConfigError, match="CASEBOOK_NOTIFY_METRICS_LISTEN"):
        NotifyConfig.from_env({**base, "CASEBOOK_NOTIFY_METRICS_LISTEN": value})
    config = NotifyConfig.from_env({**base, "CASEBOOK_NOTIFY_METRICS_LISTEN": "[::]:9465"})
    assert config.metrics_listen == "[::]:9465"
