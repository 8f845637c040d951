"""Retries are safe: the same request_id (or payment_reference) returns the original result
and writes nothing; reusing one for other content is refused; expected_version guards
against writing over someone else's change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import details, get, history, later, open_case, refused, state, ts


def inbound_call(stub: Any, case_id: str) -> pb.Case:
    """Moves the case on; recorded even on a closed case."""
    return stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id,
            channel=pb.PHONE,
            direction=pb.INBOUND,
            outcome=pb.RIGHT_PARTY_VERIFIED,
        )
    )


def open_request(request_id: str, **changes: Any) -> svc.OpenCaseRequest:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "account_id": "ACC-IDEMPOTENT",
        "debtor": pb.Debtor(name="Li Lei", phone="+8613800138000", time_zone="Asia/Shanghai"),
        "overdue_amount_minor": 100_000,
        "currency": "CNY",
        "days_past_due": 30,
    }
    fields.update(changes)
    return svc.OpenCaseRequest(**fields)


# ------------------------------------------------------------------ OpenCase
def test_open_case_retried_returns_the_same_case_and_opens_no_second(server, clock):
    stub = server.stub
    first = stub.OpenCase(open_request("open-1"))
    clock.advance(timedelta(minutes=5))
    again = stub.OpenCase(open_request("open-1"))
    assert again.case_id == first.case_id
    assert again.version == 1
    assert again.opened_at == first.opened_at
    assert [e.type for e in history(stub, first.case_id)] == ["CaseOpened"]
    # Nothing else was written anywhere: the global log holds one event.
    assert [type(e).__name__ for _, e in server.app.read_log(0)] == ["CaseOpened"]


def test_open_case_retried_after_other_commands_returns_the_case_as_opened(stub):
    first = stub.OpenCase(open_request("open-2"))
    inbound_call(stub, first.case_id)
    stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=first.case_id, amount_minor=30_000, payment_reference="PAY-OPEN-2"
        )
    )
    assert get(stub, first.case_id).version == 3
    again = stub.OpenCase(open_request("open-2"))
    assert state(again) == state(first)
    assert (again.version, again.balance_minor, again.contact_attempts) == (1, 100_000, 0)
    assert len(history(stub, first.case_id)) == 3


@pytest.mark.parametrize(
    "changes",
    [
        {"overdue_amount_minor": 100_001},
        {"account_id": "ACC-OTHER"},
        {"days_past_due": 31},
        {"debtor": pb.Debtor(name="Han Meimei", time_zone="Asia/Shanghai")},
    ],
    ids=["amount", "account", "dpd", "debtor"],
)
def test_open_case_request_id_reused_for_other_content_is_already_exists(stub, changes):
    first = stub.OpenCase(open_request("open-3"))
    refused(
        lambda: stub.OpenCase(open_request("open-3", **changes)),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_REUSED",
    )
    assert get(stub, first.case_id) == state(first)
    assert len(history(stub, first.case_id)) == 1


# ----------------------------------------------------- every command, retried
@dataclass(frozen=True)
class Retried:
    """How to retry one command RPC: what the case needs first, the request (as sent and
    with other content), and the id field of its response, if it has one."""

    rpc: str
    request: Callable[[str, dict[str, str], bool], Any]
    prepare: Callable[[Any, Any, str], dict[str, str]] = lambda stub, clock, case_id: {}
    id_field: str = ""


def _two_promises_past_due(stub: Any, clock: Any, case_id: str) -> dict[str, str]:
    ids = {}
    for name in ("first", "second"):
        ids[name] = stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                amount_minor=20_000,
                due_time=ts(later(days=1)),
                payment_channel=pb.WECHAT_PAY,
            )
        ).promise_id
    clock.advance(timedelta(days=2))
    return ids


def _dispute(stub: Any, clock: Any, case_id: str) -> dict[str, str]:
    raised = stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case_id, reason="not my card"))
    return {"dispute": raised.dispute_id}


def _hold(stub: Any, clock: Any, case_id: str) -> dict[str, str]:
    placed = stub.PlaceHold(
        svc.PlaceHoldRequest(case_id=case_id, kind=pb.HARDSHIP, reason="lost job")
    )
    return {"hold": placed.hold_id}


def _two_pending_waivers(stub: Any, clock: Any, case_id: str) -> dict[str, str]:
    ids = {}
    for name, amount in (("first", 60_000), ("second", 70_000)):
        proposed = stub.ProposeArrangement(
            svc.ProposeArrangementRequest(case_id=case_id, kind=pb.WAIVER, waiver_minor=amount)
        )
        assert proposed.case.arrangements[-1].status == pb.Arrangement.PENDING_APPROVAL
        ids[name] = proposed.arrangement_id
    return ids


RETRIED = [
    Retried(
        "LogContact",
        lambda case_id, ids, other: svc.LogContactRequest(
            case_id=case_id,
            channel=pb.PHONE,
            direction=pb.OUTBOUND,
            outcome=pb.BUSY if other else pb.NO_ANSWER,
            agent_id="dialer-3",
        ),
    ),
    Retried(
        "RecordPromise",
        lambda case_id, ids, other: svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=40_000 if other else 30_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.ALIPAY,
        ),
        id_field="promise_id",
    ),
    Retried(
        "RecordPayment",
        lambda case_id, ids, other: svc.RecordPaymentRequest(
            case_id=case_id,
            amount_minor=10_000,
            payment_reference="PAY-OTHER" if other else "PAY-RETRIED",
        ),
        id_field="payment_id",
    ),
    Retried(
        "MarkPromiseBroken",
        lambda case_id, ids, other: svc.MarkPromiseBrokenRequest(
            case_id=case_id, promise_id=ids["second" if other else "first"]
        ),
        prepare=_two_promises_past_due,
    ),
    Retried(
        "IssueLetter",
        lambda case_id, ids, other: svc.IssueLetterRequest(
            case_id=case_id, letter_type=pb.DEMAND if other else pb.REMINDER
        ),
    ),
    Retried(
        "Escalate",
        lambda case_id, ids, other: svc.EscalateRequest(
            case_id=case_id, to_stage=pb.LEGAL if other else pb.AGENCY, reason="no payment"
        ),
    ),
    Retried(
        "RaiseDispute",
        lambda case_id, ids, other: svc.RaiseDisputeRequest(
            case_id=case_id, reason="wrong amount" if other else "not my card"
        ),
        id_field="dispute_id",
    ),
    Retried(
        "ResolveDispute",
        lambda case_id, ids, other: svc.ResolveDisputeRequest(
            case_id=case_id,
            dispute_id=ids["dispute"],
            resolution="rejected" if other else "refunded",
        ),
        prepare=_dispute,
    ),
    Retried(
        "RecordCeaseRequest",
        lambda case_id, ids, other: svc.RecordCeaseRequestRequest(
            case_id=case_id, channel=pb.EMAIL if other else pb.SMS
        ),
    ),
    Retried(
        "PlaceHold",
        lambda case_id, ids, other: svc.PlaceHoldRequest(
            case_id=case_id,
            kind=pb.HARDSHIP if other else pb.COMPLAINT,
            reason="complaint to the regulator",
        ),
        id_field="hold_id",
    ),
    Retried(
        "ReleaseHold",
        lambda case_id, ids, other: svc.ReleaseHoldRequest(
            case_id=case_id, hold_id=ids["hold"], reason="found work" if other else "recovered"
        ),
        prepare=_hold,
    ),
    Retried(
        "ProposeArrangement",
        lambda case_id, ids, other: svc.ProposeArrangementRequest(
            case_id=case_id, kind=pb.WAIVER, waiver_minor=20_000 if other else 10_000
        ),
        id_field="arrangement_id",
    ),
    Retried(
        "ApproveArrangement",
        lambda case_id, ids, other: svc.ApproveArrangementRequest(
            case_id=case_id, arrangement_id=ids["second" if other else "first"]
        ),
        prepare=_two_pending_waivers,
    ),
    Retried(
        "CloseCase",
        lambda case_id, ids, other: svc.CloseCaseRequest(
            case_id=case_id, reason=pb.BANKRUPT if other else pb.WRITTEN_OFF
        ),
    ),
]


def _case_of(response: Any) -> pb.Case:
    return response if isinstance(response, pb.Case) else response.case


@pytest.mark.parametrize("spec", RETRIED, ids=[s.rpc for s in RETRIED])
def test_command_retried_with_its_request_id_returns_the_original_result(stub, clock, spec):
    case = open_case(stub)
    ids = spec.prepare(stub, clock, case.case_id)
    method = getattr(stub, spec.rpc)
    before = get(stub, case.case_id).version

    def send(other: bool = False) -> Any:
        request = spec.request(case.case_id, ids, other)
        request.request_id = f"{spec.rpc}-1"
        return method(request)

    first = send()
    written = history(stub, case.case_id)
    assert _case_of(first).version == len(written)
    assert len(written) > before
    assert {e.request_id for e in written[before:]} == {f"{spec.rpc}-1"}
    if spec.id_field:
        assert getattr(first, spec.id_field)

    # A retry straight away: the same answer, nothing written.
    assert state(send()) == state(first)
    assert history(stub, case.case_id) == written

    # The case moves on; a late retry still answers as it stood after the command.
    moved = inbound_call(stub, case.case_id)
    assert moved.version == len(written) + 1
    late = send()
    assert state(late) == state(first)
    if spec.id_field:
        assert getattr(late, spec.id_field) == getattr(first, spec.id_field)
    assert len(history(stub, case.case_id)) == len(written) + 1

    # The same request_id with other content is refused and writes nothing.
    refused(lambda: send(other=True), grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    assert len(history(stub, case.case_id)) == len(written) + 1
    assert get(stub, case.case_id).version == moved.version


def test_refused_contact_retried_meets_the_same_refusal_and_writes_nothing(stub):
    case = open_case(stub)
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE))
    request = svc.LogContactRequest(
        case_id=case.case_id,
        request_id="call-after-cease",
        channel=pb.PHONE,
        direction=pb.OUTBOUND,
        outcome=pb.NO_ANSWER,
    )
    for _ in range(2):
        refused(
            lambda: stub.LogContact(request),
            grpc.StatusCode.FAILED_PRECONDITION,
            "CEASE_REQUESTED",
        )
    events = history(stub, case.case_id)
    assert [e.type for e in events] == ["CaseOpened", "CeaseRequestRecorded", "ContactRefused"]
    assert events[-1].request_id == "call-after-cease"
    request.outcome = pb.BUSY
    refused(lambda: stub.LogContact(request), grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    assert len(history(stub, case.case_id)) == 3


def test_request_id_of_one_command_reused_for_another_command_is_already_exists(stub):
    case = open_case(stub)
    stub.RaiseDispute(
        svc.RaiseDisputeRequest(case_id=case.case_id, request_id="shared-1", reason="not mine")
    )
    refused(
        lambda: stub.RecordCeaseRequest(
            svc.RecordCeaseRequestRequest(
                case_id=case.case_id, request_id="shared-1", channel=pb.SMS
            )
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_REUSED",
    )
    assert get(stub, case.case_id).ceased_channels == []


def test_retried_instalment_plan_proposal_returns_the_arrangement_id(stub):
    """An approved instalment plan writes a promise under the same request: the retry must
    still answer with the arrangement's id, not the promise's."""
    case = open_case(stub)
    request = svc.ProposeArrangementRequest(
        case_id=case.case_id,
        request_id="plan-1",
        kind=pb.INSTALMENT_PLAN,
        payment_channel=pb.BANK_TRANSFER,
        instalments=[
            pb.Instalment(amount_minor=50_000, due_time=ts(later(days=10))),
            pb.Instalment(amount_minor=50_000, due_time=ts(later(days=40))),
        ],
    )
    first = stub.ProposeArrangement(request)
    (arrangement,) = first.case.arrangements
    assert first.arrangement_id == arrangement.arrangement_id
    (plan_promise,) = first.case.promises
    again = stub.ProposeArrangement(request)
    assert state(again) == state(first)
    assert again.arrangement_id == first.arrangement_id, (
        f"the retry answered {again.arrangement_id}; the promise the plan became is "
        f"{plan_promise.promise_id}"
    )


# ------------------------------------------------------------ payment references
def test_payment_retried_by_its_reference_alone_writes_nothing(stub):
    case = open_case(stub)
    request = svc.RecordPaymentRequest(
        case_id=case.case_id, amount_minor=25_000, payment_reference="BANK-20261123-0001"
    )
    first = stub.RecordPayment(request)
    written = history(stub, case.case_id)
    again = stub.RecordPayment(request)
    assert again.payment_id == first.payment_id
    assert again.case.version == first.case.version
    assert again.case.balance_minor == 75_000
    assert len(again.case.payments) == 1
    assert history(stub, case.case_id) == written


def test_payment_reference_with_another_amount_is_already_exists(stub):
    case = open_case(stub)
    stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=case.case_id, amount_minor=25_000, payment_reference="R-1")
    )
    written = history(stub, case.case_id)
    for request_id in ("", "new-request"):
        refused(
            lambda request_id=request_id: stub.RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=case.case_id,
                    request_id=request_id,
                    amount_minor=26_000,
                    payment_reference="R-1",
                )
            ),
            grpc.StatusCode.ALREADY_EXISTS,
            "PAYMENT_REFERENCE_REUSED",
        )
    assert history(stub, case.case_id) == written
    assert get(stub, case.case_id).balance_minor == 75_000


def test_payment_reference_used_on_another_case_is_already_exists(stub):
    first = open_case(stub)
    second = open_case(stub)
    stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=first.case_id, amount_minor=25_000, payment_reference="R-2"
        )
    )
    refused(
        lambda: stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=second.case_id, amount_minor=25_000, payment_reference="R-2"
            )
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "PAYMENT_REFERENCE_REUSED",
    )
    assert get(stub, second.case_id) == state(second)
    assert len(history(stub, second.case_id)) == 1
    assert get(stub, first.case_id).balance_minor == 75_000


# ------------------------------------------------------------- expected_version
def test_expected_version_equal_to_the_current_one_is_accepted(stub):
    case = open_case(stub)
    contacted = stub.LogContact(
        svc.LogContactRequest(
            case_id=case.case_id,
            expected_version=1,
            channel=pb.SMS,
            direction=pb.OUTBOUND,
            outcome=pb.DELIVERED,
        )
    )
    assert contacted.version == 2
    promised = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            expected_version=contacted.version,
            amount_minor=10_000,
            due_time=ts(later(days=2)),
            payment_channel=pb.CASH,
        )
    )
    assert promised.case.version == 3


@pytest.mark.parametrize("stale", [1, 2, 99], ids=["behind", "one-behind", "ahead"])
def test_stale_expected_version_is_aborted_and_writes_nothing(stub, stale):
    case = open_case(stub)
    inbound_call(stub, case.case_id)
    inbound_call(stub, case.case_id)
    written = history(stub, case.case_id)
    error = refused(
        lambda: stub.Escalate(
            svc.EscalateRequest(
                case_id=case.case_id, expected_version=stale, to_stage=pb.AGENCY, reason="x"
            )
        ),
        grpc.StatusCode.ABORTED,
        "VERSION_MISMATCH",
    )
    assert details(error)["ErrorInfo"].metadata["expected_version"] == str(stale)
    assert history(stub, case.case_id) == written
    assert get(stub, case.case_id).stage == pb.EARLY


def test_retry_of_a_command_sent_with_expected_version_returns_its_result_after_the_case_moved_on(
    stub,
):
    case = open_case(stub)
    request = svc.RecordPromiseRequest(
        case_id=case.case_id,
        request_id="promise-with-version",
        expected_version=1,
        amount_minor=30_000,
        due_time=ts(later(days=3)),
        payment_channel=pb.ALIPAY,
    )
    first = stub.RecordPromise(request)
    assert first.case.version == 2
    inbound_call(stub, case.case_id)
    inbound_call(stub, case.case_id)
    again = stub.RecordPromise(request)  # expected_version 1 is stale by now: still no ABORTED
    assert state(again) == state(first)
    assert len(history(stub, case.case_id)) == 4
