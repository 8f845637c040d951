"""Every alert raised is POSTed once to the configured webhook, its alert id as
Idempotency-Key; a failing webhook is tried again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from casebook_notify.store import alerts
from tests.notify import harness
from tests.notify.harness import eventually, shanghai, stamp, when

stack = harness.stack


def _webhook_rows(notify):
    return notify.store.rows(select(alerts).order_by(alerts.c.sequence))


def test_each_alert_is_posted_once_to_the_webhook_with_its_id_as_idempotency_key(stack):
    notify = stack.start(reminder_offsets=(), alert_webhook_url=stack.http.url("/alerts"))
    cases = [stack.open_case(), stack.open_case()]
    promises = {stack.promise(case_id, shanghai(23, 11), amount=25_000) for case_id in cases}
    eventually(lambda: notify.deadline_rows(cases[-1]))
    stack.clock.set(shanghai(23, 11, 0, 1))
    raised = eventually(when(notify.alerts, lambda found: len(found) == 2))
    posted = eventually(when(lambda: stack.http.posted("/alerts"), lambda p: len(p) == 2))
    notify.wait_ticks(4)
    assert len(stack.http.posted("/alerts")) == 2  # once each, never again
    assert {r.webhook_state for r in _webhook_rows(notify)} == {"SENT"}

    by_key = {p["key"]: p["json"] for p in posted}
    assert set(by_key) == {a.alert_id for a in raised}
    for alert in raised:
        body = by_key[alert.alert_id]
        assert body["alert_id"] == alert.alert_id
        assert body["kind"] == "BROKEN_PROMISE"
        assert (body["case_id"], body["promise_id"]) == (alert.case_id, alert.promise_id)
        assert body["unpaid_minor"] == 25_000
        assert datetime.fromisoformat(body["raised_at"]) == stamp(alert.raised_at)
    assert {b["promise_id"] for b in by_key.values()} == promises


def test_webhook_answering_503_is_tried_again_and_the_alert_posted_once(stack):
    stack.http.fail_next = 1
    notify = stack.start(reminder_offsets=(), alert_webhook_url=stack.http.url("/alerts"))
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 11))
    eventually(lambda: notify.deadline_rows(case_id))
    stack.clock.set(shanghai(23, 11, 0, 1))
    (alert,) = eventually(notify.alerts)
    (posted,) = eventually(lambda: stack.http.posted("/alerts"))
    assert posted["key"] == alert.alert_id
    assert stack.http.fail_next == 0  # the first POST was answered 503
    (row,) = eventually(when(lambda: _webhook_rows(notify), lambda r: r[0].webhook_state == "SENT"))
    assert row.webhook_attempts == 2
    notify.wait_ticks(4)
    assert len(stack.http.posted("/alerts")) == 1


def test_alert_without_webhook_configured_is_only_listed(stack):
    notify = stack.start(reminder_offsets=())
    case_id = stack.open_case()
    stack.promise(case_id, shanghai(23, 11))
    eventually(lambda: notify.deadline_rows(case_id))
    stack.clock.set(shanghai(23, 11) + timedelta(seconds=1))
    eventually(notify.alerts)
    notify.wait_ticks()
    assert stack.http.requests == []
    assert [r.webhook_state for r in _webhook_rows(notify)] == ["NONE"]
