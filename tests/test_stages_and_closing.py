"""Days past due and stages over time, escalation, closing, disputes, cease requests, letters,
and what every event records about who did what, when."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import (
    T0,
    details,
    get,
    history,
    later,
    open_case,
    refused,
    state,
    ts,
    violations,
)

AGENT_7 = (("x-casebook-actor", "agent-7"),)


def escalate(stub: Any, case_id: str, stage: int) -> pb.Case:
    return stub.Escalate(
        svc.EscalateRequest(case_id=case_id, to_stage=stage, reason="no payment after demand")
    )


def final_notice(stub: Any, case_id: str) -> pb.Case:
    return stub.IssueLetter(svc.IssueLetterRequest(case_id=case_id, letter_type=pb.FINAL_NOTICE))


def contact(stub: Any, case_id: str, direction: int = pb.OUTBOUND, **fields: Any) -> pb.Case:
    return stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id,
            channel=pb.PHONE,
            direction=direction,
            outcome=pb.RIGHT_PARTY_VERIFIED,
            **fields,
        )
    )


def promise(stub: Any, case_id: str, amount: int, days: float) -> str:
    return stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=amount,
            due_time=ts(later(days=days)),
            payment_channel=pb.ALIPAY,
        )
    ).promise_id


def pay(stub: Any, case_id: str, amount: int, reference: str) -> svc.RecordPaymentResponse:
    return stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=case_id, amount_minor=amount, payment_reference=reference)
    )


def close(stub: Any, case_id: str, reason: int = pb.WRITTEN_OFF) -> pb.Case:
    return stub.CloseCase(svc.CloseCaseRequest(case_id=case_id, reason=reason, note="per policy"))


# ------------------------------------------------------------ days past due
def test_days_past_due_advance_with_the_calendar_days_of_the_debtors_zone(stub, clock):
    # T0 is 10:00 on Monday 23 November in Shanghai: the date there changes at 16:00 UTC.
    case = open_case(stub, dpd=30, time_zone="Asia/Shanghai")
    assert case.days_past_due == 30
    clock.set(later(hours=13, seconds=3599))  # 23:59:59 in Shanghai
    assert get(stub, case.case_id).days_past_due == 30
    clock.set(later(hours=14))  # midnight in Shanghai
    assert get(stub, case.case_id).days_past_due == 31
    clock.set(later(days=1))
    assert get(stub, case.case_id).days_past_due == 31
    clock.set(later(days=10))
    assert get(stub, case.case_id).days_past_due == 40


def test_days_past_due_in_new_york_change_at_new_york_midnight(stub, clock):
    # T0 is 21:00 on Sunday 22 November in New York (EST): midnight comes 3 hours later,
    # while in Shanghai the date is not due to change for another 14 hours.
    new_york = open_case(stub, dpd=30, time_zone="America/New_York")
    shanghai = open_case(stub, dpd=30, time_zone="Asia/Shanghai")
    clock.set(later(hours=2, seconds=3599))
    assert get(stub, new_york.case_id).days_past_due == 30
    clock.set(later(hours=3))
    assert get(stub, new_york.case_id).days_past_due == 31
    assert get(stub, shanghai.case_id).days_past_due == 30
    clock.set(later(hours=14))
    assert get(stub, new_york.case_id).days_past_due == 31
    assert get(stub, shanghai.case_id).days_past_due == 31


def test_stage_follows_days_past_due(stub, clock):
    case = open_case(stub, dpd=30)
    timeline = [
        (0, 30, pb.EARLY),
        (29, 59, pb.EARLY),
        (30, 60, pb.MID),
        (59, 89, pb.MID),
        (60, 90, pb.LATE),
        (400, 430, pb.LATE),
    ]
    for days, dpd, stage in timeline:
        clock.set(later(days=days))
        shown = get(stub, case.case_id)
        assert (shown.days_past_due, shown.stage) == (dpd, stage), days


def test_days_past_due_stop_once_the_balance_is_paid_off(stub, clock):
    case = open_case(stub, amount=100_000, dpd=30)
    clock.set(later(days=2))
    pay(stub, case.case_id, 60_000, "PAY-1")
    clock.set(later(days=5))
    assert get(stub, case.case_id).days_past_due == 35  # part paid: still counting
    paid = pay(stub, case.case_id, 40_000, "PAY-2")
    assert (paid.case.balance_minor, paid.case.days_past_due) == (0, 35)
    clock.set(later(days=90))
    shown = get(stub, case.case_id)
    assert (shown.days_past_due, shown.stage) == (35, pb.EARLY)


def test_days_past_due_stop_when_the_case_closes(stub, clock):
    case = open_case(stub, dpd=50)
    clock.set(later(days=3))
    close(stub, case.case_id)
    clock.set(later(days=30))
    shown = get(stub, case.case_id)
    assert (shown.days_past_due, shown.stage) == (53, pb.CLOSED)


# ------------------------------------------------------------------ escalation
def test_escalation_to_agency_then_legal_shows_in_the_stage(stub, clock):
    case = open_case(stub, dpd=95)
    assert case.stage == pb.LATE
    final_notice(stub, case.case_id)
    clock.advance(timedelta(days=15))  # LEGAL waits 15 days after a final notice (CN)
    agency = escalate(stub, case.case_id, pb.AGENCY)
    assert agency.stage == pb.AGENCY
    legal = escalate(stub, case.case_id, pb.LEGAL)
    assert legal.stage == pb.LEGAL
    clock.advance(timedelta(days=30))
    assert get(stub, case.case_id).stage == pb.LEGAL
    (first, second) = [
        json.loads(e.payload_json) for e in history(stub, case.case_id) if e.type == "Escalated"
    ]
    assert (first["from_stage"], first["to_stage"]) == ("LATE", "AGENCY")
    assert (second["from_stage"], second["to_stage"]) == ("AGENCY", "LEGAL")


def test_escalation_may_climb_ahead_of_days_past_due_which_later_pass_it(stub, clock):
    case = open_case(stub, dpd=30)
    assert escalate(stub, case.case_id, pb.MID).stage == pb.MID
    clock.set(later(days=60))  # 90 days past due
    assert get(stub, case.case_id).stage == pb.LATE


@pytest.mark.parametrize(
    ("dpd", "escalated_to", "to_stage"),
    [
        (30, None, pb.EARLY),
        (65, None, pb.EARLY),
        (65, None, pb.MID),
        (95, pb.AGENCY, pb.LATE),
        (95, pb.AGENCY, pb.AGENCY),
        (95, pb.LEGAL, pb.AGENCY),
        (95, pb.LEGAL, pb.LEGAL),
    ],
    ids=[
        "EARLY-to-EARLY",
        "MID-to-EARLY",
        "MID-to-MID",
        "AGENCY-to-LATE",
        "AGENCY-to-AGENCY",
        "LEGAL-to-AGENCY",
        "LEGAL-to-LEGAL",
    ],
)
def test_escalation_backwards_or_to_the_same_stage_is_refused(
    stub, clock, dpd, escalated_to, to_stage
):
    case = open_case(stub, dpd=dpd)
    if escalated_to is not None:
        final_notice(stub, case.case_id)
        clock.advance(timedelta(days=15))
        escalate(stub, case.case_id, escalated_to)
    written = history(stub, case.case_id)
    refused(
        lambda: escalate(stub, case.case_id, to_stage),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_STAGE_TRANSITION",
    )
    assert history(stub, case.case_id) == written


def test_legal_needs_a_final_notice_issued_15_days_earlier(stub, clock):
    case = open_case(stub, dpd=120)
    refused(
        lambda: escalate(stub, case.case_id, pb.LEGAL),
        grpc.StatusCode.FAILED_PRECONDITION,
        "FINAL_NOTICE_REQUIRED",
    )
    final_notice(stub, case.case_id)
    clock.set(later(days=15, seconds=-1))
    written = history(stub, case.case_id)
    refused(
        lambda: escalate(stub, case.case_id, pb.LEGAL),
        grpc.StatusCode.FAILED_PRECONDITION,
        "FINAL_NOTICE_REQUIRED",
    )
    assert history(stub, case.case_id) == written
    clock.set(later(days=15))
    assert escalate(stub, case.case_id, pb.LEGAL).stage == pb.LEGAL  # straight from LATE


def test_no_escalation_to_agency_while_a_dispute_is_open(stub):
    case = open_case(stub, dpd=95)
    raised = stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="not mine"))
    refused(
        lambda: escalate(stub, case.case_id, pb.AGENCY),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DISPUTE_OPEN",
    )
    stub.ResolveDispute(
        svc.ResolveDisputeRequest(
            case_id=case.case_id, dispute_id=raised.dispute_id, resolution="statement sent"
        )
    )
    assert escalate(stub, case.case_id, pb.AGENCY).stage == pb.AGENCY


def test_escalation_to_closed_is_an_invalid_to_stage(stub):
    case = open_case(stub)
    error = refused(
        lambda: escalate(stub, case.case_id, pb.CLOSED), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violations(error) == {"to_stage"}
    assert get(stub, case.case_id).stage == pb.EARLY
    assert len(history(stub, case.case_id)) == 1


# ------------------------------------------------------------------ closing
def test_closing_cancels_open_promises(stub):
    case = open_case(stub, amount=100_000)
    kept = promise(stub, case.case_id, 10_000, days=3)
    pay(stub, case.case_id, 10_000, "PAY-K")
    first = promise(stub, case.case_id, 20_000, days=5)
    second = promise(stub, case.case_id, 30_000, days=9)
    closed = close(stub, case.case_id, pb.WRITTEN_OFF)
    assert closed.stage == pb.CLOSED
    assert closed.close_reason == pb.WRITTEN_OFF
    statuses = {p.promise_id: (p.status, p.status_reason) for p in closed.promises}
    assert statuses[kept][0] == pb.Promise.KEPT
    for promise_id in (first, second):
        status, reason = statuses[promise_id]
        assert status == pb.Promise.CANCELLED
        assert "WRITTEN_OFF" in reason
    events = history(stub, case.case_id)
    assert [e.type for e in events][-3:] == ["PromiseCancelled", "PromiseCancelled", "CaseClosed"]
    cancelled = [json.loads(e.payload_json)["promise_id"] for e in events[-3:-1]]
    assert cancelled == [first, second]
    assert json.loads(events[-1].payload_json)["reason"] == "WRITTEN_OFF"


CLOSED_CASE_COMMANDS = {
    "RecordPromise": lambda stub, case_id: promise(stub, case_id, 10_000, days=3),
    "RecordPayment": lambda stub, case_id: pay(stub, case_id, 10_000, "PAY-CLOSED"),
    "Escalate": lambda stub, case_id: escalate(stub, case_id, pb.AGENCY),
    "CloseCase-again": lambda stub, case_id: close(stub, case_id, pb.BANKRUPT),
    "IssueLetter": lambda stub, case_id: stub.IssueLetter(
        svc.IssueLetterRequest(case_id=case_id, letter_type=pb.REMINDER)
    ),
    "RaiseDispute": lambda stub, case_id: stub.RaiseDispute(
        svc.RaiseDisputeRequest(case_id=case_id, reason="not mine")
    ),
    "ProposeArrangement": lambda stub, case_id: stub.ProposeArrangement(
        svc.ProposeArrangementRequest(case_id=case_id, kind=pb.WAIVER, waiver_minor=1_000)
    ),
}


@pytest.mark.parametrize("command", CLOSED_CASE_COMMANDS.values(), ids=CLOSED_CASE_COMMANDS)
def test_commands_on_a_closed_case_are_refused_as_case_closed(stub, command):
    case = open_case(stub)
    closed = close(stub, case.case_id)
    refused(lambda: command(stub, case.case_id), grpc.StatusCode.FAILED_PRECONDITION, "CASE_CLOSED")
    assert get(stub, case.case_id) == state(closed)


def test_outbound_contact_on_a_closed_case_is_refused_and_the_refusal_recorded(stub):
    case = open_case(stub)
    closed = close(stub, case.case_id)
    error = refused(
        lambda: contact(stub, case.case_id, pb.OUTBOUND),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CASE_CLOSED",
    )
    assert "CASE_CLOSED" in details(error)["ErrorInfo"].metadata["reasons"].split(",")
    shown = get(stub, case.case_id)
    assert shown.version == closed.version + 1
    assert (shown.contact_attempts, shown.last_contact_time) == (0, closed.last_contact_time)
    refusal = history(stub, case.case_id)[-1]
    assert refusal.type == "ContactRefused"
    assert "CASE_CLOSED" in json.loads(refusal.payload_json)["reasons"]


def test_inbound_contact_on_a_closed_case_is_still_recorded(stub, clock):
    case = open_case(stub)
    closed = close(stub, case.case_id)
    clock.advance(timedelta(days=3))
    called = contact(stub, case.case_id, pb.INBOUND)
    assert called.version == closed.version + 1
    assert (called.stage, called.contact_attempts) == (pb.CLOSED, 1)
    assert history(stub, case.case_id)[-1].type == "ContactLogged"


def test_cease_request_on_a_closed_case_is_still_recorded(stub):
    case = open_case(stub)
    close(stub, case.case_id)
    ceased = stub.RecordCeaseRequest(
        svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE)
    )
    assert list(ceased.ceased_channels) == [pb.PHONE]


def test_closing_paid_in_full_with_a_balance_outstanding_is_refused(stub):
    case = open_case(stub, amount=100_000)
    pay(stub, case.case_id, 99_999, "PAY-ALMOST")
    written = history(stub, case.case_id)
    error = refused(
        lambda: close(stub, case.case_id, pb.PAID_IN_FULL),
        grpc.StatusCode.FAILED_PRECONDITION,
        "BALANCE_OUTSTANDING",
    )
    assert details(error)["ErrorInfo"].metadata["balance_minor"] == "1"
    assert history(stub, case.case_id) == written
    pay(stub, case.case_id, 1, "PAY-LAST")
    closed = close(stub, case.case_id, pb.PAID_IN_FULL)
    assert (closed.stage, closed.close_reason) == (pb.CLOSED, pb.PAID_IN_FULL)


# ------------------------------------------------------------------ disputes
def test_dispute_is_raised_open_and_resolved_once(stub, clock):
    case = open_case(stub)
    raised = stub.RaiseDispute(
        svc.RaiseDisputeRequest(
            case_id=case.case_id, reason="charge not recognised", received_at=ts(later(hours=-2))
        )
    )
    (dispute,) = raised.case.disputes
    assert raised.dispute_id == dispute.dispute_id
    assert (dispute.status, dispute.reason) == (pb.Dispute.OPEN, "charge not recognised")
    assert dispute.raised_at == ts(later(hours=-2))
    clock.advance(timedelta(days=2))
    request = svc.ResolveDisputeRequest(
        case_id=case.case_id, dispute_id=raised.dispute_id, resolution="merchant refunded"
    )
    resolved = stub.ResolveDispute(request)
    (dispute,) = resolved.disputes
    assert (dispute.status, dispute.resolution) == (pb.Dispute.RESOLVED, "merchant refunded")
    assert dispute.resolved_at == ts(clock.now())
    written = history(stub, case.case_id)
    refused(
        lambda: stub.ResolveDispute(request),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DISPUTE_NOT_OPEN",
    )
    assert history(stub, case.case_id) == written


def test_resolving_an_unknown_dispute_is_not_found(stub):
    case = open_case(stub)
    error = refused(
        lambda: stub.ResolveDispute(
            svc.ResolveDisputeRequest(case_id=case.case_id, dispute_id="nope", resolution="x")
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert details(error)["ResourceInfo"].resource_type == "dispute"


# ------------------------------------------------------------------ cease requests
def test_cease_request_adds_the_channel_to_ceased_channels(stub):
    case = open_case(stub)
    first = stub.RecordCeaseRequest(
        svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE, note="by letter")
    )
    assert list(first.ceased_channels) == [pb.PHONE]
    second = stub.RecordCeaseRequest(
        svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.SMS)
    )
    assert list(second.ceased_channels) == [pb.PHONE, pb.SMS]
    again = stub.RecordCeaseRequest(
        svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE)
    )
    assert list(again.ceased_channels) == [pb.PHONE, pb.SMS]


# ------------------------------------------------------------------ letters
def _demand_text(case: pb.Case) -> str:
    """The demand-cn template (version 1) filled in by hand, as an auditor would re-render it."""
    return (
        f"Dear {case.debtor.name},\nDemand for payment, account {case.account_id}.\n"
        f"Amount owed: {case.balance_minor} {case.currency} "
        f"({case.days_past_due} days past due).\n"
        "Reason and legal basis: overdue repayment under your card agreement and the "
        "Measures for the Supervision and Administration of Credit Card Business.\n"
        "Your rights: you may request the contract and transaction records to check the "
        "amount, and object in writing within 30 days.\n"
        "How to check or object: call 95588 or write to the card centre.\n"
    )


def test_demand_letter_records_its_template_and_content_hash(stub, clock):
    case = open_case(stub, amount=100_000, dpd=45)
    issued = stub.IssueLetter(svc.IssueLetterRequest(case_id=case.case_id, letter_type=pb.DEMAND))
    (letter,) = issued.letters
    assert letter.letter_type == pb.DEMAND
    assert (letter.template_id, letter.template_version) == ("demand-cn", 1)
    assert re.fullmatch(r"[0-9a-f]{64}", letter.content_sha256)
    assert letter.issued_at == ts(clock.now())
    expected = hashlib.sha256(_demand_text(issued).encode("utf-8")).hexdigest()
    assert letter.content_sha256 == expected

    # Nothing the letter shows has changed: the same text, the same hash.
    again = stub.IssueLetter(svc.IssueLetterRequest(case_id=case.case_id, letter_type=pb.DEMAND))
    assert again.letters[1].content_sha256 == letter.content_sha256
    # A payment changes the amount owed, and so the letter.
    paid = pay(stub, case.case_id, 25_000, "PAY-L")
    third = stub.IssueLetter(svc.IssueLetterRequest(case_id=case.case_id, letter_type=pb.DEMAND))
    assert third.letters[2].content_sha256 != letter.content_sha256
    assert (
        third.letters[2].content_sha256
        == hashlib.sha256(_demand_text(paid.case).encode("utf-8")).hexdigest()
    )


def test_letter_with_an_unknown_template_is_invalid(stub):
    case = open_case(stub)
    for template_id in ("demand-mars", "reminder-cn"):  # unknown, and one for another type
        error = refused(
            lambda template_id=template_id: stub.IssueLetter(
                svc.IssueLetterRequest(
                    case_id=case.case_id, letter_type=pb.DEMAND, template_id=template_id
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violations(error) == {"template_id"}
    assert len(history(stub, case.case_id)) == 1


# ------------------------------------------------------------------ event envelope
def test_every_event_records_actor_request_and_both_times(stub, clock):
    case = stub.OpenCase(
        svc.OpenCaseRequest(
            request_id="open-envelope",
            account_id="ACC-ENVELOPE",
            debtor=pb.Debtor(name="Li Lei", time_zone="Asia/Shanghai"),
            overdue_amount_minor=100_000,
            currency="CNY",
            days_past_due=30,
        ),
        metadata=(("x-casebook-actor", "loader"),),
    )
    clock.advance(timedelta(hours=3))
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case.case_id,
            request_id="contact-1",
            channel=pb.PHONE,
            direction=pb.OUTBOUND,
            outcome=pb.RIGHT_PARTY_VERIFIED,
            occurred_at=ts(clock.now() - timedelta(hours=1)),
        ),
        metadata=AGENT_7,
    )
    clock.advance(timedelta(minutes=10))
    stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="not mine"))
    opened, contacted, disputed = history(stub, case.case_id)

    assert (opened.actor, opened.request_id) == ("loader", "open-envelope")
    assert opened.occurred_at == opened.recorded_at == ts(T0)

    assert (contacted.actor, contacted.request_id) == ("agent-7", "contact-1")
    assert contacted.occurred_at == ts(later(hours=2))  # business time, as sent
    assert contacted.recorded_at == ts(later(hours=3))  # when the service stored it

    assert (disputed.actor, disputed.request_id) == ("anonymous", "")
    assert disputed.occurred_at == disputed.recorded_at == ts(later(hours=3, seconds=600))

    assert [e.case_id for e in (opened, contacted, disputed)] == [case.case_id] * 3
    assert [e.version for e in (opened, contacted, disputed)] == [1, 2, 3]
    for event in (opened, contacted, disputed):
        payload = json.loads(event.payload_json)
        assert "actor" not in payload and "request_id" not in payload
