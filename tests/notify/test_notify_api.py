"""NotifyService over gRPC: listing, filtering and paging alerts, acknowledging them, watching
for new ones (and resuming a watch), listing reminders; bad requests are refused as such."""

from __future__ import annotations

import base64
from datetime import timedelta

import grpc
import pytest

from casebook.v1 import notify_service_pb2 as npb
from tests.notify import harness
from tests.notify.harness import eventually, shanghai, stamp, when

stack = harness.stack


def _refused(call, code: grpc.StatusCode) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def _break(stack, notify, case_ids: list[str], at) -> list[npb.Alert]:
    """One promise per case, due at `at` and unpaid: broken once the clock passes it. Returns
    all alerts there are once those are raised."""
    before = len(notify.alerts())
    for case_id in case_ids:
        stack.promise(case_id, at)
    eventually(lambda: len(notify.deadline_rows(case_ids[-1])) >= 1)
    stack.clock.set(at + timedelta(seconds=1))
    return eventually(when(notify.alerts, lambda found: len(found) == before + len(case_ids)))


def _alerts_stack(stack):
    return stack.start(reminder_offsets=())


def test_list_alerts_pages_through_every_alert_once_in_raising_order(stack):
    notify = _alerts_stack(stack)
    everything = _break(stack, notify, [stack.open_case() for _ in range(5)], shanghai(23, 11))
    sequences = [a.sequence for a in everything]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5

    pages, token = [], ""
    while True:
        page = notify.stub.ListAlerts(npb.ListAlertsRequest(page_size=2, page_token=token))
        pages.append([a.alert_id for a in page.alerts])
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == [a.alert_id for a in everything]

    exact = notify.stub.ListAlerts(npb.ListAlertsRequest(page_size=5))
    assert len(exact.alerts) == 5 and exact.next_page_token == ""  # no empty last page
    default = notify.stub.ListAlerts(npb.ListAlertsRequest())
    assert len(default.alerts) == 5 and default.next_page_token == ""


def test_list_alerts_filters_by_case_kind_and_acknowledgement(stack):
    notify = _alerts_stack(stack)
    first_case, second_case = stack.open_case(), stack.open_case()
    _break(stack, notify, [first_case, second_case], shanghai(23, 11))
    _break(stack, notify, [first_case], shanghai(23, 12))
    everything = notify.alerts()
    assert len(everything) == 3
    acknowledged = next(a for a in everything if a.case_id == first_case)
    notify.stub.AcknowledgeAlert(
        npb.AcknowledgeAlertRequest(alert_id=acknowledged.alert_id, agent_id="agent-1")
    )

    def ids(**filter_fields):
        return {a.alert_id for a in notify.alerts(**filter_fields)}

    on_first = {a.alert_id for a in everything if a.case_id == first_case}
    assert len(on_first) == 2
    assert ids(case_id=first_case) == on_first
    assert ids(case_id=second_case) == {a.alert_id for a in everything} - on_first
    assert ids(case_id="no-such-case") == set()
    assert ids(kind=npb.BROKEN_PROMISE) == {a.alert_id for a in everything}
    assert ids(acknowledged=True) == {acknowledged.alert_id}
    assert ids(acknowledged=False) == {a.alert_id for a in everything} - {acknowledged.alert_id}
    assert ids(case_id=first_case, acknowledged=False) == on_first - {acknowledged.alert_id}
    assert ids() == {a.alert_id for a in everything}


def test_list_alerts_with_an_unknown_kind_is_not_an_internal_error(stack):
    notify = _alerts_stack(stack)
    _break(stack, notify, [stack.open_case()], shanghai(23, 11))
    request = npb.ListAlertsRequest(filter=npb.AlertFilter(kind=99))  # a newer client's kind
    try:
        answer = notify.stub.ListAlerts(request)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    else:
        assert list(answer.alerts) == []


def test_list_alerts_refuses_a_page_token_it_did_not_give_out(stack):
    notify = _alerts_stack(stack)
    for token in (
        "not-a-token",
        base64.urlsafe_b64encode(b"before:3").decode(),
        base64.urlsafe_b64encode(b"after:three").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ):
        _refused(
            lambda token=token: notify.stub.ListAlerts(npb.ListAlertsRequest(page_token=token)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


def test_requests_out_of_range_are_invalid_arguments(stack):
    notify = _alerts_stack(stack)
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    _refused(lambda: notify.stub.ListAlerts(npb.ListAlertsRequest(page_size=-1)), invalid)
    _refused(lambda: notify.stub.ListReminders(npb.ListRemindersRequest()), invalid)
    stream = notify.stub.WatchAlerts(npb.WatchAlertsRequest(after_sequence=-1))
    _refused(lambda: list(stream), invalid)
    # A case notify knows nothing about simply has no reminders.
    assert notify.reminders("no-such-case") == []


def test_acknowledging_an_alert_keeps_the_first_agent_and_time(stack):
    notify = _alerts_stack(stack)
    (alert,) = _break(stack, notify, [stack.open_case()], shanghai(23, 11))
    stack.clock.set(shanghai(23, 11, 30))
    first = notify.stub.AcknowledgeAlert(
        npb.AcknowledgeAlertRequest(alert_id=alert.alert_id, agent_id="agent-1")
    )
    assert first.acknowledged and first.acknowledged_by == "agent-1"
    assert stamp(first.acknowledged_at) == shanghai(23, 11, 30)

    stack.clock.set(shanghai(23, 12))
    again = notify.stub.AcknowledgeAlert(
        npb.AcknowledgeAlertRequest(alert_id=alert.alert_id, agent_id="agent-2")
    )
    assert again.acknowledged_by == "agent-1"
    assert stamp(again.acknowledged_at) == shanghai(23, 11, 30)
    (listed,) = notify.alerts()
    assert (listed.acknowledged, listed.acknowledged_by) == (True, "agent-1")
    assert stamp(listed.acknowledged_at) == shanghai(23, 11, 30)


def test_acknowledge_refuses_an_unknown_alert_and_a_missing_agent(stack):
    notify = _alerts_stack(stack)
    (alert,) = _break(stack, notify, [stack.open_case()], shanghai(23, 11))

    def acknowledge(alert_id: str, agent_id: str):
        return lambda: notify.stub.AcknowledgeAlert(
            npb.AcknowledgeAlertRequest(alert_id=alert_id, agent_id=agent_id)
        )

    _refused(acknowledge("no-such-alert", "agent-1"), grpc.StatusCode.NOT_FOUND)
    _refused(acknowledge(alert.alert_id, ""), grpc.StatusCode.INVALID_ARGUMENT)
    _refused(acknowledge(alert.alert_id, "a" * 129), grpc.StatusCode.INVALID_ARGUMENT)
    _refused(acknowledge("", "agent-1"), grpc.StatusCode.INVALID_ARGUMENT)
    (listed,) = notify.alerts()
    assert not listed.acknowledged


def test_watch_alerts_on_an_open_stream_receives_a_newly_raised_alert(stack):
    notify = _alerts_stack(stack)
    (old,) = _break(stack, notify, [stack.open_case()], shanghai(23, 11))
    watched_case, other_case = stack.open_case(), stack.open_case()
    everything = notify.watching(npb.WatchAlertsRequest())
    one_case = notify.watching(npb.WatchAlertsRequest(filter=npb.AlertFilter(case_id=watched_case)))
    try:
        raised = _break(stack, notify, [other_case, watched_case], shanghai(23, 12))[1:]
        received = everything.take(2)
        assert [a.alert_id for a in received] == [a.alert_id for a in raised]  # not `old`
        (mine,) = one_case.take(1)
        assert mine.case_id == watched_case
        notify.wait_until_idle(everything, one_case)
        assert everything.pending() == [] and one_case.pending() == []
        assert old.alert_id not in {a.alert_id for a in received}
    finally:
        everything.cancel()
        one_case.cancel()


def test_watch_alerts_resumes_after_a_sequence_and_replays_later_alerts_once_in_order(stack):
    notify = _alerts_stack(stack)
    cases = [stack.open_case() for _ in range(3)]
    first = _break(stack, notify, cases, shanghai(23, 11))
    resumed = notify.watching(npb.WatchAlertsRequest(after_sequence=first[0].sequence))
    try:
        replayed = resumed.take(2)
        assert [a.alert_id for a in replayed] == [a.alert_id for a in first[1:]]
        later = _break(stack, notify, [stack.open_case()], shanghai(23, 12))[-1]
        (live,) = resumed.take(1)
        assert live.alert_id == later.alert_id
        sequences = [a.sequence for a in [*replayed, live]]
        assert sequences == sorted(sequences)
        notify.wait_until_idle(resumed)
        assert resumed.pending() == []  # nothing sent twice
    finally:
        resumed.cancel()
