"""Promises to pay, the payments that keep them, and arrangements that change what is owed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import details, get, history, later, open_case, refused, ts, violations

SUPERVISOR = (("x-casebook-actor", "supervisor-1"),)


def promise(stub: Any, case_id: str, amount: int, days: float, **fields: Any) -> str:
    return stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=amount,
            due_time=ts(later(days=days)),
            payment_channel=pb.ALIPAY,
            **fields,
        )
    ).promise_id


def pay(stub: Any, case_id: str, amount: int, reference: str, **fields: Any):
    return stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=case_id, amount_minor=amount, payment_reference=reference, **fields
        )
    )


def mark_broken(stub: Any, case_id: str, promise_id: str) -> pb.Case:
    return stub.MarkPromiseBroken(
        svc.MarkPromiseBrokenRequest(case_id=case_id, promise_id=promise_id)
    )


def promise_in(case: pb.Case, promise_id: str) -> pb.Promise:
    (found,) = [p for p in case.promises if p.promise_id == promise_id]
    return found


def events_of(stub: Any, case_id: str, kind: str) -> list[pb.CaseEvent]:
    return [e for e in history(stub, case_id) if e.type == kind]


# ------------------------------------------------------------------ lifecycle
def test_payment_received_by_the_due_time_keeps_the_promise(stub, clock):
    case = open_case(stub, amount=100_000)
    promise_id = promise(stub, case.case_id, 60_000, days=3)
    clock.set(later(days=3))  # exactly the due time still counts
    paid = pay(stub, case.case_id, 60_000, "PAY-ON-TIME")
    kept = promise_in(paid.case, promise_id)
    assert (kept.status, kept.paid_minor) == (pb.Promise.KEPT, 60_000)
    assert paid.case.balance_minor == 40_000
    (payment,) = paid.case.payments
    assert payment.allocated_promise_ids == [promise_id]
    assert [
        json.loads(e.payload_json)["promise_id"]
        for e in events_of(stub, case.case_id, "PromiseKept")
    ] == [promise_id]


def test_partial_payment_leaves_the_promise_open_with_what_was_paid(stub):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=3)
    paid = pay(stub, case.case_id, 20_000, "PAY-PART")
    open_promise = promise_in(paid.case, promise_id)
    assert (open_promise.status, open_promise.paid_minor) == (pb.Promise.OPEN, 20_000)
    assert paid.case.balance_minor == 80_000
    assert events_of(stub, case.case_id, "PromiseKept") == []


def test_promise_cannot_be_marked_broken_before_its_due_time(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=3)
    written = history(stub, case.case_id)
    for moment in (later(days=1), later(days=3)):  # the due instant itself is not yet late
        clock.set(moment)
        refused(
            lambda: mark_broken(stub, case.case_id, promise_id),
            grpc.StatusCode.FAILED_PRECONDITION,
            "PROMISE_NOT_DUE",
        )
    assert history(stub, case.case_id) == written
    assert promise_in(get(stub, case.case_id), promise_id).status == pb.Promise.OPEN


def test_promise_unpaid_after_its_due_time_is_marked_broken_with_the_unpaid_amount(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=3)
    pay(stub, case.case_id, 20_000, "PAY-SHORT")
    clock.set(later(days=3, seconds=1))
    broken = mark_broken(stub, case.case_id, promise_id)
    assert promise_in(broken, promise_id).status == pb.Promise.BROKEN
    (event,) = events_of(stub, case.case_id, "PromiseBroken")
    payload = json.loads(event.payload_json)
    assert payload["promise_id"] == promise_id
    assert payload["unpaid_minor"] == 30_000
    assert payload["missed_due_time"] == "2026-11-26T02:00:00Z"
    assert event.version == broken.version


def test_marking_a_broken_promise_broken_again_writes_nothing(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=1)
    clock.advance(timedelta(days=2))
    first = mark_broken(stub, case.case_id, promise_id)
    clock.advance(timedelta(hours=1))
    again = mark_broken(stub, case.case_id, promise_id)
    assert promise_in(again, promise_id).status == pb.Promise.BROKEN
    assert again.version == first.version
    assert len(events_of(stub, case.case_id, "PromiseBroken")) == 1


def test_marking_a_kept_promise_broken_is_a_no_op(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=1)
    paid = pay(stub, case.case_id, 50_000, "PAY-KEPT")
    clock.advance(timedelta(days=5))
    shown = mark_broken(stub, case.case_id, promise_id)
    assert promise_in(shown, promise_id).status == pb.Promise.KEPT
    assert shown.version == paid.case.version
    assert events_of(stub, case.case_id, "PromiseBroken") == []


def test_marking_an_unknown_promise_broken_is_not_found(stub):
    case = open_case(stub)
    error = refused(
        lambda: mark_broken(stub, case.case_id, "no-such-promise"), grpc.StatusCode.NOT_FOUND
    )
    info = details(error)["ResourceInfo"]
    assert (info.resource_type, info.resource_name) == ("promise", "no-such-promise")


def test_payment_goes_to_the_oldest_open_promise_first(stub):
    case = open_case(stub)
    older = promise(stub, case.case_id, 30_000, days=7)
    newer = promise(stub, case.case_id, 30_000, days=3)  # due sooner, but promised later
    paid = pay(stub, case.case_id, 40_000, "PAY-SPLIT")
    first, second = promise_in(paid.case, older), promise_in(paid.case, newer)
    assert (first.status, first.paid_minor) == (pb.Promise.KEPT, 30_000)
    assert (second.status, second.paid_minor) == (pb.Promise.OPEN, 10_000)
    assert paid.case.payments[0].allocated_promise_ids == [older, newer]
    (allocated,) = events_of(stub, case.case_id, "PaymentRecorded")
    assert json.loads(allocated.payload_json)["allocations"] == [
        {"amount_minor": 30_000, "promise_id": older},
        {"amount_minor": 10_000, "promise_id": newer},
    ]


def test_payment_received_after_the_due_time_does_not_keep_the_promise(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=3)
    clock.set(later(days=4))
    paid = pay(stub, case.case_id, 50_000, "PAY-LATE")
    late = promise_in(paid.case, promise_id)
    assert (late.status, late.paid_minor) == (pb.Promise.OPEN, 0)
    assert paid.case.payments[0].allocated_promise_ids == []
    assert paid.case.balance_minor == 50_000  # the money still counts against the debt
    broken = mark_broken(stub, case.case_id, promise_id)
    assert promise_in(broken, promise_id).status == pb.Promise.BROKEN
    (event,) = events_of(stub, case.case_id, "PromiseBroken")
    assert json.loads(event.payload_json)["unpaid_minor"] == 50_000


def test_payment_recorded_late_but_received_by_the_due_time_keeps_the_promise(stub, clock):
    case = open_case(stub)
    promise_id = promise(stub, case.case_id, 50_000, days=3)
    clock.set(later(days=5))  # the bank file arrives two days late
    paid = pay(stub, case.case_id, 50_000, "PAY-BACKDATED", received_at=ts(later(days=2)))
    assert promise_in(paid.case, promise_id).status == pb.Promise.KEPT
    assert paid.case.payments[0].received_at.ToDatetime() == later(days=2).replace(tzinfo=None)


def test_overpayment_leaves_a_zero_balance_and_records_the_excess(stub):
    case = open_case(stub, amount=100_000)
    paid = pay(stub, case.case_id, 130_000, "PAY-OVER")
    assert paid.case.balance_minor == 0
    assert paid.case.paid_minor == 130_000
    assert paid.case.overpaid_minor == 30_000
    assert paid.case.payments[0].overpayment_minor == 30_000
    again = pay(stub, case.case_id, 5_000, "PAY-AFTER-ZERO")
    assert again.case.balance_minor == 0
    assert again.case.overpaid_minor == 35_000
    assert again.case.payments[1].overpayment_minor == 5_000
    payloads = [
        json.loads(e.payload_json) for e in events_of(stub, case.case_id, "PaymentRecorded")
    ]
    assert [(p["overpayment_minor"], p["balance_after_minor"]) for p in payloads] == [
        (30_000, 0),
        (5_000, 0),
    ]


# ------------------------------------------------------------------ instalments
def _instalments(*plan: tuple[int, float]) -> list[pb.Instalment]:
    return [pb.Instalment(amount_minor=a, due_time=ts(later(days=d))) for a, d in plan]


def test_instalment_promise_is_kept_when_every_instalment_is_paid(stub, clock):
    case = open_case(stub)
    recorded = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=60_000,
            payment_channel=pb.BANK_TRANSFER,
            instalments=_instalments((20_000, 7), (20_000, 14), (20_000, 21)),
        )
    )
    promise_id = recorded.promise_id
    shown = promise_in(recorded.case, promise_id)
    assert shown.due_time == ts(later(days=21))
    assert [i.amount_minor for i in shown.instalments] == [20_000, 20_000, 20_000]

    paid = pay(stub, case.case_id, 20_000, "INST-1")
    after_first = promise_in(paid.case, promise_id)
    assert after_first.status == pb.Promise.OPEN
    assert [i.paid_minor for i in after_first.instalments] == [20_000, 0, 0]

    clock.set(later(days=8))  # past the first instalment, which is covered
    refused(
        lambda: mark_broken(stub, case.case_id, promise_id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROMISE_NOT_DUE",
    )
    paid = pay(stub, case.case_id, 20_000, "INST-2")
    assert [i.paid_minor for i in promise_in(paid.case, promise_id).instalments] == [
        20_000,
        20_000,
        0,
    ]
    clock.set(later(days=20))
    paid = pay(stub, case.case_id, 20_000, "INST-3")
    kept = promise_in(paid.case, promise_id)
    assert (kept.status, kept.paid_minor) == (pb.Promise.KEPT, 60_000)
    assert [i.paid_minor for i in kept.instalments] == [20_000, 20_000, 20_000]


def test_instalment_promise_breaks_when_the_first_instalment_passes_unpaid(stub, clock):
    case = open_case(stub)
    promise_id = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=60_000,
            payment_channel=pb.BANK_TRANSFER,
            instalments=_instalments((20_000, 7), (40_000, 14)),
        )
    ).promise_id
    pay(stub, case.case_id, 5_000, "INST-SHORT")
    clock.set(later(days=7))
    refused(
        lambda: mark_broken(stub, case.case_id, promise_id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROMISE_NOT_DUE",
    )
    clock.set(later(days=7, seconds=1))
    broken = mark_broken(stub, case.case_id, promise_id)
    assert promise_in(broken, promise_id).status == pb.Promise.BROKEN
    (event,) = events_of(stub, case.case_id, "PromiseBroken")
    payload = json.loads(event.payload_json)
    assert payload["unpaid_minor"] == 15_000  # of the first instalment, not of the whole
    assert payload["missed_due_time"] == "2026-11-30T02:00:00Z"


def test_replacing_a_promise_supersedes_it(stub):
    case = open_case(stub)
    old = promise(stub, case.case_id, 50_000, days=3)
    replaced = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=40_000,
            due_time=ts(later(days=10)),
            payment_channel=pb.WECHAT_PAY,
            replaces_promise_id=old,
        )
    )
    new = replaced.promise_id
    superseded = promise_in(replaced.case, old)
    assert superseded.status == pb.Promise.SUPERSEDED
    assert superseded.replaced_by_promise_id == new
    assert superseded.status_reason
    assert promise_in(replaced.case, new).status == pb.Promise.OPEN
    assert [e.type for e in history(stub, case.case_id)][-2:] == [
        "PromiseRecorded",
        "PromiseSuperseded",
    ]
    # Payments now go to the new promise only.
    paid = pay(stub, case.case_id, 40_000, "PAY-NEW")
    assert promise_in(paid.case, new).status == pb.Promise.KEPT
    assert promise_in(paid.case, old).paid_minor == 0


def test_only_an_open_promise_can_be_replaced(stub):
    case = open_case(stub)
    kept = promise(stub, case.case_id, 10_000, days=3)
    pay(stub, case.case_id, 10_000, "PAY-K")
    written = history(stub, case.case_id)
    refused(
        lambda: promise(stub, case.case_id, 10_000, days=5, replaces_promise_id=kept),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROMISE_NOT_OPEN",
    )
    refused(
        lambda: promise(stub, case.case_id, 10_000, days=5, replaces_promise_id="nope"),
        grpc.StatusCode.NOT_FOUND,
    )
    assert history(stub, case.case_id) == written


def test_promise_larger_than_the_balance_is_refused(stub):
    case = open_case(stub, amount=100_000)
    pay(stub, case.case_id, 30_000, "PAY-FIRST")
    written = history(stub, case.case_id)
    error = refused(
        lambda: promise(stub, case.case_id, 70_001, days=3),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROMISE_EXCEEDS_BALANCE",
    )
    assert details(error)["ErrorInfo"].metadata["balance_minor"] == "70000"
    assert history(stub, case.case_id) == written
    assert promise(stub, case.case_id, 70_000, days=3)  # the whole balance is fine


def test_payment_in_another_currency_is_invalid(stub):
    case = open_case(stub)
    error = refused(
        lambda: pay(stub, case.case_id, 10_000, "PAY-USD", currency="USD"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violations(error) == {"currency"}
    assert len(history(stub, case.case_id)) == 1
    assert pay(stub, case.case_id, 10_000, "PAY-CNY", currency="CNY").case.balance_minor == 90_000


# ------------------------------------------------------------------ arrangements
def propose(stub: Any, case_id: str, **fields: Any) -> svc.ProposeArrangementResponse:
    return stub.ProposeArrangement(svc.ProposeArrangementRequest(case_id=case_id, **fields))


def arrangement_in(case: pb.Case, arrangement_id: str) -> pb.Arrangement:
    (found,) = [a for a in case.arrangements if a.arrangement_id == arrangement_id]
    return found


def test_waiver_within_the_approval_limit_is_approved_at_once_and_reduces_the_balance(stub):
    case = open_case(stub, amount=100_000)
    proposed = propose(stub, case.case_id, kind=pb.WAIVER, waiver_minor=50_000)  # = the limit
    waiver = arrangement_in(proposed.case, proposed.arrangement_id)
    assert (waiver.status, waiver.requires_approval) == (pb.Arrangement.APPROVED, False)
    assert proposed.case.balance_minor == 50_000
    assert proposed.case.waived_minor == 50_000
    assert [e.type for e in history(stub, case.case_id)][1:] == [
        "ArrangementProposed",
        "ArrangementApproved",
        "BalanceWaived",
    ]


def test_waiver_above_the_approval_limit_waits_for_approval(stub):
    case = open_case(stub, amount=100_000)
    proposed = propose(stub, case.case_id, kind=pb.WAIVER, waiver_minor=50_001)
    pending = arrangement_in(proposed.case, proposed.arrangement_id)
    assert (pending.status, pending.requires_approval) == (pb.Arrangement.PENDING_APPROVAL, True)
    assert (proposed.case.balance_minor, proposed.case.waived_minor) == (100_000, 0)
    assert events_of(stub, case.case_id, "BalanceWaived") == []

    approved = stub.ApproveArrangement(
        svc.ApproveArrangementRequest(case_id=case.case_id, arrangement_id=proposed.arrangement_id),
        metadata=SUPERVISOR,
    )
    waiver = arrangement_in(approved, proposed.arrangement_id)
    assert (waiver.status, waiver.approved_by) == (pb.Arrangement.APPROVED, "supervisor-1")
    assert (approved.balance_minor, approved.waived_minor) == (49_999, 50_001)


def test_approving_an_unknown_arrangement_is_not_found(stub):
    case = open_case(stub)
    refused(
        lambda: stub.ApproveArrangement(
            svc.ApproveArrangementRequest(case_id=case.case_id, arrangement_id="nope")
        ),
        grpc.StatusCode.NOT_FOUND,
    )


def test_approved_instalment_plan_becomes_a_promise_superseding_open_promises(stub):
    case = open_case(stub, amount=100_000)
    earlier = promise(stub, case.case_id, 30_000, days=3)
    proposed = propose(
        stub,
        case.case_id,
        kind=pb.INSTALMENT_PLAN,
        payment_channel=pb.DIRECT_DEBIT,
        instalments=_instalments((50_000, 30), (50_000, 60)),
    )
    plan = arrangement_in(proposed.case, proposed.arrangement_id)
    assert plan.status == pb.Arrangement.APPROVED
    (from_plan,) = [p for p in proposed.case.promises if p.arrangement_id]
    assert from_plan.arrangement_id == proposed.arrangement_id
    assert (from_plan.status, from_plan.amount_minor) == (pb.Promise.OPEN, 100_000)
    assert from_plan.payment_channel == pb.DIRECT_DEBIT
    assert [i.amount_minor for i in from_plan.instalments] == [50_000, 50_000]
    assert from_plan.due_time == ts(later(days=60))
    old = promise_in(proposed.case, earlier)
    assert old.status == pb.Promise.SUPERSEDED
    assert old.replaced_by_promise_id == from_plan.promise_id
    assert proposed.case.balance_minor == 100_000  # a plan forgives nothing


def test_instalment_plan_without_a_payment_channel_leaves_the_case_readable(stub):
    """payment_channel is optional on ProposeArrangement; the promise the plan becomes must
    still be shown (and the case still readable) without one."""
    case = open_case(stub, amount=100_000)
    proposed = propose(
        stub,
        case.case_id,
        kind=pb.INSTALMENT_PLAN,
        instalments=_instalments((50_000, 30), (50_000, 60)),
    )
    assert proposed.case.promises[0].arrangement_id == proposed.arrangement_id
    assert get(stub, case.case_id).version == proposed.case.version


def test_kept_settlement_forgives_the_rest_of_the_balance(stub):
    case = open_case(stub, amount=100_000)
    proposed = propose(
        stub,
        case.case_id,
        kind=pb.SETTLEMENT,
        settlement_amount_minor=60_000,  # forgives 40,000: within the limit
        settlement_due_time=ts(later(days=10)),
        payment_channel=pb.BANK_TRANSFER,
    )
    assert arrangement_in(proposed.case, proposed.arrangement_id).status == (
        pb.Arrangement.APPROVED
    )
    (settlement_promise,) = proposed.case.promises
    assert settlement_promise.amount_minor == 60_000
    paid = pay(stub, case.case_id, 60_000, "PAY-SETTLE")
    assert promise_in(paid.case, settlement_promise.promise_id).status == pb.Promise.KEPT
    assert (paid.case.balance_minor, paid.case.waived_minor) == (0, 40_000)
    assert paid.case.paid_minor == 60_000
    (waived,) = events_of(stub, case.case_id, "BalanceWaived")
    payload = json.loads(waived.payload_json)
    assert (payload["amount_minor"], payload["balance_after_minor"]) == (40_000, 0)
    assert payload["arrangement_id"] == proposed.arrangement_id
    assert [e.type for e in history(stub, case.case_id)][-3:] == [
        "PaymentRecorded",
        "PromiseKept",
        "BalanceWaived",
    ]


def test_settlement_forgiving_more_than_the_limit_waits_for_approval(stub):
    case = open_case(stub, amount=100_000)
    proposed = propose(
        stub,
        case.case_id,
        kind=pb.SETTLEMENT,
        settlement_amount_minor=40_000,  # forgives 60,000
        settlement_due_time=ts(later(days=10)),
        payment_channel=pb.BANK_TRANSFER,
    )
    pending = arrangement_in(proposed.case, proposed.arrangement_id)
    assert (pending.status, pending.requires_approval) == (pb.Arrangement.PENDING_APPROVAL, True)
    assert list(proposed.case.promises) == []


def test_approving_an_arrangement_twice_is_refused(stub):
    case = open_case(stub, amount=200_000)
    proposed = propose(stub, case.case_id, kind=pb.WAIVER, waiver_minor=80_000)
    request = svc.ApproveArrangementRequest(
        case_id=case.case_id, arrangement_id=proposed.arrangement_id
    )
    approved = stub.ApproveArrangement(request)
    assert approved.balance_minor == 120_000
    refused(
        lambda: stub.ApproveArrangement(request),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ARRANGEMENT_ALREADY_APPROVED",
    )
    automatic = propose(stub, case.case_id, kind=pb.WAIVER, waiver_minor=1_000)
    refused(
        lambda: stub.ApproveArrangement(
            svc.ApproveArrangementRequest(
                case_id=case.case_id, arrangement_id=automatic.arrangement_id
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ARRANGEMENT_ALREADY_APPROVED",
    )
    shown = get(stub, case.case_id)
    assert (shown.balance_minor, shown.waived_minor) == (119_000, 81_000)
    assert len(events_of(stub, case.case_id, "BalanceWaived")) == 2
