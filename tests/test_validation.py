"""Bad requests are refused whole, with every bad field named, and leave no trace.

The table runs against one server per backend (a module fixture): each row is a refused
call, so the rows cannot disturb each other, and the case they aim at must stay unchanged.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_common.clock import ManualClock
from tests.support import (
    T0,
    InProcessServer,
    details,
    fresh_postgres_database,
    history,
    later,
    open_case,
    postgres_available,
    ts,
    violations,
)

LONG_ID = "x" * 129  # ids are at most 128 characters
LONG_NOTE = "n" * 2001  # notes at most 2000
FUTURE = later(hours=1)  # beyond the 5 minutes of clock skew allowed
PAST = later(days=-1)
UNKNOWN_CASE_ID = "7b0e5c1e-0d2f-4a43-9d55-0c8f3f0a1b2c"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[InProcessServer]:
    """One server per backend for the whole module; its clock stays at T0."""
    if request.param == "sqlite":
        database: Any = nullcontext(f"sqlite:///{tmp_path_factory.mktemp('validation')}/case.db")
    else:
        if not postgres_available():
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI")
            pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
        database = fresh_postgres_database()
    with database as url:
        server = InProcessServer(url, ManualClock(T0))
        try:
            yield server
        finally:
            server.close()


@pytest.fixture(scope="module")
def target(shared: InProcessServer) -> pb.Case:
    """The case every row aims at."""
    return open_case(shared.stub)


# ------------------------------------------------------------------ requests
def _debtor(**changes: Any) -> pb.Debtor:
    fields: dict[str, Any] = {
        "name": "Li Lei",
        "phone": "+8613800138000",
        "email": "li.lei@example.cn",
        "address": "1 Chang'an Avenue, Beijing",
        "time_zone": "Asia/Shanghai",
        "id_number": "110101199003070000",
    }
    fields.update(changes)
    return pb.Debtor(**fields)


def _instalments(*plan: tuple[int, float]) -> list[pb.Instalment]:
    """(amount_minor, days after T0) per instalment."""
    return [pb.Instalment(amount_minor=a, due_time=ts(later(days=d))) for a, d in plan]


# A valid request of each RPC; a row changes one or more fields of it.
VALID: dict[str, Callable[[], dict[str, Any]]] = {
    "OpenCase": lambda: {
        "request_id": uuid.uuid4().hex,
        "account_id": "ACC-VALID",
        "debtor": _debtor(),
        "overdue_amount_minor": 100_000,
        "currency": "CNY",
        "days_past_due": 30,
    },
    "LogContact": lambda: {"channel": pb.PHONE, "direction": pb.OUTBOUND, "outcome": pb.NO_ANSWER},
    "RecordPromise": lambda: {
        "amount_minor": 10_000,
        "due_time": ts(later(days=3)),
        "payment_channel": pb.ALIPAY,
    },
    "RecordPayment": lambda: {"amount_minor": 10_000, "payment_reference": "PAY-VALIDATION"},
    "MarkPromiseBroken": lambda: {"promise_id": "promise-1"},
    "IssueLetter": lambda: {"letter_type": pb.DEMAND},
    "Escalate": lambda: {"to_stage": pb.AGENCY, "reason": "placed with agency"},
    "RaiseDispute": lambda: {"reason": "not my card"},
    "ResolveDispute": lambda: {"dispute_id": "dispute-1", "resolution": "refunded"},
    "RecordCeaseRequest": lambda: {"channel": pb.SMS},
    "PlaceHold": lambda: {"kind": pb.COMPLAINT, "reason": "complaint to the regulator"},
    "ReleaseHold": lambda: {"hold_id": "hold-1"},
    "ProposeArrangement": lambda: {"kind": pb.WAIVER, "waiver_minor": 1_000},
    "ApproveArrangement": lambda: {"arrangement_id": "arrangement-1"},
    "CloseCase": lambda: {"reason": pb.WRITTEN_OFF},
    "AssignCase": lambda: {"assignee": "agent:7", "note": "her language"},
    "GetCase": dict,
    "CheckContactPermitted": lambda: {"channel": pb.PHONE},
    "GetCaseHistory": dict,
    "SubscribeEvents": dict,
}
COMMANDS = [
    "LogContact",
    "RecordPromise",
    "RecordPayment",
    "MarkPromiseBroken",
    "IssueLetter",
    "Escalate",
    "RaiseDispute",
    "ResolveDispute",
    "RecordCeaseRequest",
    "PlaceHold",
    "ReleaseHold",
    "ProposeArrangement",
    "ApproveArrangement",
    "CloseCase",
    "AssignCase",
]
STREAMS = {"GetCaseHistory", "SubscribeEvents"}
REQUEST_TYPES = {name: getattr(svc, f"{name}Request") for name in VALID}
DROP = object()  # a row's way of leaving a field unset


def build(rpc: str, case_id: str, changes: dict[str, Any]) -> Any:
    fields = VALID[rpc]()
    if rpc not in ("OpenCase", "SubscribeEvents"):
        fields["case_id"] = case_id
    fields.update(changes)
    return REQUEST_TYPES[rpc](**{k: v for k, v in fields.items() if v is not DROP})


def call(stub: Any, rpc: str, request: Any) -> Any:
    method = getattr(stub, rpc)
    if rpc in STREAMS:
        return list(method(request, timeout=5))
    return method(request, timeout=10)


def row(case: str, rpc: str, fields: set[str], **changes: Any) -> Any:
    return pytest.param(rpc, changes, fields, id=f"{rpc}-{case}")


ROWS = [
    # Every command on an existing case: its shared fields.
    *(row("case_id-missing", rpc, {"case_id"}, case_id="") for rpc in COMMANDS),
    *(row("case_id-not-a-uuid", rpc, {"case_id"}, case_id="not-a-uuid") for rpc in COMMANDS),
    *(row("case_id-129-chars", rpc, {"case_id"}, case_id=LONG_ID) for rpc in COMMANDS),
    *(row("request_id-129-chars", rpc, {"request_id"}, request_id=LONG_ID) for rpc in COMMANDS),
    *(
        row("expected_version-negative", rpc, {"expected_version"}, expected_version=-1)
        for rpc in COMMANDS
    ),
    # OpenCase
    row("request_id-missing", "OpenCase", {"request_id"}, request_id=""),
    row("request_id-129-chars", "OpenCase", {"request_id"}, request_id=LONG_ID),
    row("account_id-missing", "OpenCase", {"account_id"}, account_id=""),
    row("account_id-129-chars", "OpenCase", {"account_id"}, account_id=LONG_ID),
    row("debtor-missing", "OpenCase", {"debtor.name", "debtor.time_zone"}, debtor=DROP),
    row("debtor.name-missing", "OpenCase", {"debtor.name"}, debtor=_debtor(name="")),
    row("debtor.name-201-chars", "OpenCase", {"debtor.name"}, debtor=_debtor(name="L" * 201)),
    row("debtor.phone-no-plus", "OpenCase", {"debtor.phone"}, debtor=_debtor(phone="13800138000")),
    row("debtor.phone-letters", "OpenCase", {"debtor.phone"}, debtor=_debtor(phone="+86 138-0013")),
    row("debtor.phone-too-short", "OpenCase", {"debtor.phone"}, debtor=_debtor(phone="+861380")),
    row(
        "debtor.phone-too-long", "OpenCase", {"debtor.phone"}, debtor=_debtor(phone="+" + "8" * 16)
    ),
    row("debtor.email-no-at", "OpenCase", {"debtor.email"}, debtor=_debtor(email="li.example.cn")),
    row(
        "debtor.time_zone-Mars",
        "OpenCase",
        {"debtor.time_zone"},
        debtor=_debtor(time_zone="Mars/Base"),
    ),
    row("debtor.time_zone-empty", "OpenCase", {"debtor.time_zone"}, debtor=_debtor(time_zone="")),
    row(
        "debtor.time_zone-path",
        "OpenCase",
        {"debtor.time_zone"},
        debtor=_debtor(time_zone="../../etc/passwd"),
    ),
    row(
        "debtor.address-501-chars",
        "OpenCase",
        {"debtor.address"},
        debtor=_debtor(address="a" * 501),
    ),
    row(
        "debtor.id_number-65-chars",
        "OpenCase",
        {"debtor.id_number"},
        debtor=_debtor(id_number="1" * 65),
    ),
    row("profile-unknown", "OpenCase", {"profile"}, profile="MARS"),
    row("amount-zero", "OpenCase", {"overdue_amount_minor"}, overdue_amount_minor=0),
    row("amount-negative", "OpenCase", {"overdue_amount_minor"}, overdue_amount_minor=-100),
    row("amount-absurd", "OpenCase", {"overdue_amount_minor"}, overdue_amount_minor=10**15 + 1),
    row("currency-XXX1", "OpenCase", {"currency"}, currency="XXX1"),
    row("currency-lowercase", "OpenCase", {"currency"}, currency="cny"),
    row("currency-missing", "OpenCase", {"currency"}, currency=""),
    row("days_past_due-negative", "OpenCase", {"days_past_due"}, days_past_due=-1),
    row("days_past_due-3651", "OpenCase", {"days_past_due"}, days_past_due=3651),
    row("opened_at-future", "OpenCase", {"opened_at"}, opened_at=ts(FUTURE)),
    # LogContact
    row("channel-unspecified", "LogContact", {"channel"}, channel=0),
    row("channel-99", "LogContact", {"channel"}, channel=99),
    row("direction-unspecified", "LogContact", {"direction"}, direction=0),
    row("direction-99", "LogContact", {"direction"}, direction=99),
    row("outcome-unspecified", "LogContact", {"outcome"}, outcome=0),
    row("outcome-99", "LogContact", {"outcome"}, outcome=99),
    row("target-99", "LogContact", {"target"}, target=99),
    row("agent_id-129-chars", "LogContact", {"agent_id"}, agent_id=LONG_ID),
    row("note-2001-chars", "LogContact", {"note"}, note=LONG_NOTE),
    row("occurred_at-future", "LogContact", {"occurred_at"}, occurred_at=ts(FUTURE)),
    # RecordPromise
    row("amount-zero", "RecordPromise", {"amount_minor"}, amount_minor=0),
    row("amount-negative", "RecordPromise", {"amount_minor"}, amount_minor=-1),
    row("payment_channel-unspecified", "RecordPromise", {"payment_channel"}, payment_channel=0),
    row("payment_channel-99", "RecordPromise", {"payment_channel"}, payment_channel=99),
    row("due_time-missing", "RecordPromise", {"due_time"}, due_time=DROP),
    row("due_time-past", "RecordPromise", {"due_time"}, due_time=ts(PAST)),
    row("due_time-now", "RecordPromise", {"due_time"}, due_time=ts(T0)),
    row(
        "instalments-out-of-order",
        "RecordPromise",
        {"instalments[1].due_time"},
        amount_minor=10_000,
        due_time=DROP,
        instalments=_instalments((5_000, 9), (5_000, 3)),
    ),
    row(
        "instalments-same-due-time",
        "RecordPromise",
        {"instalments[1].due_time"},
        amount_minor=10_000,
        due_time=DROP,
        instalments=_instalments((5_000, 3), (5_000, 3)),
    ),
    row(
        "instalments-not-summing-to-amount",
        "RecordPromise",
        {"amount_minor"},
        amount_minor=10_000,
        due_time=DROP,
        instalments=_instalments((5_000, 3), (4_000, 9)),
    ),
    row(
        "instalment-amount-zero",
        "RecordPromise",
        {"instalments[0].amount_minor"},
        amount_minor=5_000,
        due_time=DROP,
        instalments=_instalments((0, 3), (5_000, 9)),
    ),
    row(
        "instalment-due-in-past",
        "RecordPromise",
        {"instalments[0].due_time"},
        amount_minor=10_000,
        due_time=DROP,
        instalments=_instalments((5_000, -1), (5_000, 9)),
    ),
    row(
        "instalment-due-missing",
        "RecordPromise",
        {"instalments[0].due_time"},
        amount_minor=10_000,
        due_time=DROP,
        instalments=[pb.Instalment(amount_minor=10_000)],
    ),
    row(
        "due_time-not-last-instalment",
        "RecordPromise",
        {"due_time"},
        amount_minor=10_000,
        due_time=ts(later(days=5)),
        instalments=_instalments((5_000, 3), (5_000, 9)),
    ),
    row(
        "replaces_promise_id-129-chars",
        "RecordPromise",
        {"replaces_promise_id"},
        replaces_promise_id=LONG_ID,
    ),
    row("note-2001-chars", "RecordPromise", {"note"}, note=LONG_NOTE),
    # RecordPayment
    row("amount-zero", "RecordPayment", {"amount_minor"}, amount_minor=0),
    row("amount-negative", "RecordPayment", {"amount_minor"}, amount_minor=-5_000),
    row("currency-XXX1", "RecordPayment", {"currency"}, currency="XXX1"),
    row("currency-lowercase", "RecordPayment", {"currency"}, currency="cny"),
    row("currency-not-the-case's", "RecordPayment", {"currency"}, currency="USD"),
    row("payment_reference-missing", "RecordPayment", {"payment_reference"}, payment_reference=""),
    row(
        "payment_reference-129-chars",
        "RecordPayment",
        {"payment_reference"},
        payment_reference=LONG_ID,
    ),
    row("received_at-future", "RecordPayment", {"received_at"}, received_at=ts(FUTURE)),
    # MarkPromiseBroken
    row("promise_id-missing", "MarkPromiseBroken", {"promise_id"}, promise_id=""),
    row("promise_id-129-chars", "MarkPromiseBroken", {"promise_id"}, promise_id=LONG_ID),
    # IssueLetter
    row("letter_type-unspecified", "IssueLetter", {"letter_type"}, letter_type=0),
    row("letter_type-99", "IssueLetter", {"letter_type"}, letter_type=99),
    row("template_id-unknown", "IssueLetter", {"template_id"}, template_id="demand-mars"),
    row("template_id-of-another-type", "IssueLetter", {"template_id"}, template_id="reminder-cn"),
    row("template_id-129-chars", "IssueLetter", {"template_id"}, template_id=LONG_ID),
    # Escalate
    row("to_stage-unspecified", "Escalate", {"to_stage"}, to_stage=0),
    row("to_stage-99", "Escalate", {"to_stage"}, to_stage=99),
    row("to_stage-CLOSED", "Escalate", {"to_stage"}, to_stage=pb.CLOSED),
    row("reason-missing", "Escalate", {"reason"}, reason=""),
    row("reason-2001-chars", "Escalate", {"reason"}, reason=LONG_NOTE),
    # RaiseDispute
    row("reason-missing", "RaiseDispute", {"reason"}, reason=""),
    row("reason-2001-chars", "RaiseDispute", {"reason"}, reason=LONG_NOTE),
    row("received_at-future", "RaiseDispute", {"received_at"}, received_at=ts(FUTURE)),
    # ResolveDispute
    row("dispute_id-missing", "ResolveDispute", {"dispute_id"}, dispute_id=""),
    row("dispute_id-129-chars", "ResolveDispute", {"dispute_id"}, dispute_id=LONG_ID),
    row("resolution-missing", "ResolveDispute", {"resolution"}, resolution=""),
    row("resolution-2001-chars", "ResolveDispute", {"resolution"}, resolution=LONG_NOTE),
    # RecordCeaseRequest
    row("channel-unspecified", "RecordCeaseRequest", {"channel"}, channel=0),
    row("channel-99", "RecordCeaseRequest", {"channel"}, channel=99),
    row("received_at-future", "RecordCeaseRequest", {"received_at"}, received_at=ts(FUTURE)),
    row("note-2001-chars", "RecordCeaseRequest", {"note"}, note=LONG_NOTE),
    # PlaceHold
    row("kind-unspecified", "PlaceHold", {"kind"}, kind=0),
    row("kind-99", "PlaceHold", {"kind"}, kind=99),
    row("until-past", "PlaceHold", {"until"}, until=ts(PAST)),
    row("reason-missing", "PlaceHold", {"reason"}, reason=""),
    row("reason-2001-chars", "PlaceHold", {"reason"}, reason=LONG_NOTE),
    # ReleaseHold
    row("hold_id-missing", "ReleaseHold", {"hold_id"}, hold_id=""),
    row("hold_id-129-chars", "ReleaseHold", {"hold_id"}, hold_id=LONG_ID),
    row("reason-2001-chars", "ReleaseHold", {"reason"}, reason=LONG_NOTE),
    # AssignCase
    row("assignee-missing", "AssignCase", {"assignee"}, assignee=""),
    row("assignee-129-chars", "AssignCase", {"assignee"}, assignee=LONG_ID),
    row("assignee-padded", "AssignCase", {"assignee"}, assignee=" agent:7"),
    row("assignee-control-character", "AssignCase", {"assignee"}, assignee="agent\n7"),
    row("note-2001-chars", "AssignCase", {"note"}, note=LONG_NOTE),
    # ProposeArrangement
    row("kind-unspecified", "ProposeArrangement", {"kind"}, kind=0),
    row("kind-99", "ProposeArrangement", {"kind"}, kind=99),
    row("payment_channel-99", "ProposeArrangement", {"payment_channel"}, payment_channel=99),
    row("note-2001-chars", "ProposeArrangement", {"note"}, note=LONG_NOTE),
    row("waiver-zero", "ProposeArrangement", {"waiver_minor"}, waiver_minor=0),
    row("waiver-negative", "ProposeArrangement", {"waiver_minor"}, waiver_minor=-1_000),
    row(
        "instalment-plan-of-one",
        "ProposeArrangement",
        {"instalments"},
        kind=pb.INSTALMENT_PLAN,
        instalments=_instalments((10_000, 7)),
    ),
    row(
        "instalment-plan-out-of-order",
        "ProposeArrangement",
        {"instalments[1].due_time"},
        kind=pb.INSTALMENT_PLAN,
        instalments=_instalments((5_000, 30), (5_000, 7)),
    ),
    row(
        "instalment-plan-negative-amount",
        "ProposeArrangement",
        {"instalments[1].amount_minor"},
        kind=pb.INSTALMENT_PLAN,
        instalments=_instalments((5_000, 7), (-5_000, 30)),
    ),
    row("deferral-without-date", "ProposeArrangement", {"deferred_until"}, kind=pb.DEFERRAL),
    row(
        "deferral-into-the-past",
        "ProposeArrangement",
        {"deferred_until"},
        kind=pb.DEFERRAL,
        deferred_until=ts(PAST),
    ),
    row(
        "settlement-amount-zero",
        "ProposeArrangement",
        {"settlement_amount_minor"},
        kind=pb.SETTLEMENT,
        settlement_due_time=ts(later(days=7)),
    ),
    row(
        "settlement-due-missing",
        "ProposeArrangement",
        {"settlement_due_time"},
        kind=pb.SETTLEMENT,
        settlement_amount_minor=50_000,
    ),
    row(
        "settlement-due-past",
        "ProposeArrangement",
        {"settlement_due_time"},
        kind=pb.SETTLEMENT,
        settlement_amount_minor=50_000,
        settlement_due_time=ts(PAST),
    ),
    # ApproveArrangement
    row("arrangement_id-missing", "ApproveArrangement", {"arrangement_id"}, arrangement_id=""),
    row(
        "arrangement_id-129-chars", "ApproveArrangement", {"arrangement_id"}, arrangement_id=LONG_ID
    ),
    row("note-2001-chars", "ApproveArrangement", {"note"}, note=LONG_NOTE),
    # CloseCase
    row("reason-unspecified", "CloseCase", {"reason"}, reason=0),
    row("reason-99", "CloseCase", {"reason"}, reason=99),
    row("note-2001-chars", "CloseCase", {"note"}, note=LONG_NOTE),
    # Reads
    row("case_id-missing", "GetCase", {"case_id"}, case_id=""),
    row("case_id-not-a-uuid", "GetCase", {"case_id"}, case_id="not-a-uuid"),
    row(
        "as_of_version-and-as_of_time",
        "GetCase",
        {"as_of_time"},
        as_of_version=1,
        as_of_time=ts(T0),
    ),
    row("as_of_version-negative", "GetCase", {"as_of_version"}, as_of_version=-1),
    row("channel-unspecified", "CheckContactPermitted", {"channel"}, channel=0),
    row("channel-99", "CheckContactPermitted", {"channel"}, channel=99),
    row("case_id-not-a-uuid", "CheckContactPermitted", {"case_id"}, case_id="not-a-uuid"),
    row("case_id-not-a-uuid", "GetCaseHistory", {"case_id"}, case_id="not-a-uuid"),
    row("types-unknown", "GetCaseHistory", {"types"}, types=["CaseOpened", "CaseExploded"]),
    row("from_version-negative", "GetCaseHistory", {"from_version"}, from_version=-1),
    row("after_position-negative", "SubscribeEvents", {"after_position"}, after_position=-1),
]


@pytest.mark.parametrize(("rpc", "changes", "fields"), ROWS)
def test_bad_field_is_invalid_argument_naming_the_field(shared, target, rpc, changes, fields):
    stub = shared.stub
    before = stub.GetCase(svc.GetCaseRequest(case_id=target.case_id))
    request = build(rpc, target.case_id, changes)
    with pytest.raises(grpc.RpcError) as caught:
        call(stub, rpc, request)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert fields <= violations(error), error.details()
    after = stub.GetCase(svc.GetCaseRequest(case_id=target.case_id))
    assert after.version == before.version


def test_every_rpc_with_a_bad_field_has_rows():
    assert {p.values[0] for p in ROWS} == set(VALID)


def test_open_case_reports_every_bad_field_at_once(shared):
    request = svc.OpenCaseRequest(
        request_id="",
        account_id="",
        debtor=_debtor(name="", phone="138 0013 8000", email="nobody", time_zone="Mars/Base"),
        profile="MARS",
        overdue_amount_minor=-1,
        currency="cny",
        days_past_due=-3,
        opened_at=ts(FUTURE),
    )
    with pytest.raises(grpc.RpcError) as caught:
        shared.stub.OpenCase(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == {
        "request_id",
        "account_id",
        "debtor.name",
        "debtor.phone",
        "debtor.email",
        "debtor.time_zone",
        "profile",
        "overdue_amount_minor",
        "currency",
        "days_past_due",
        "opened_at",
    }
    assert len(details(caught.value)["BadRequest"].field_violations) == 11


def test_command_reports_every_bad_field_at_once(shared, target):
    request = svc.RecordPromiseRequest(
        case_id=target.case_id,
        request_id=LONG_ID,
        expected_version=-1,
        amount_minor=0,
        due_time=ts(PAST),
        payment_channel=99,
        note=LONG_NOTE,
    )
    with pytest.raises(grpc.RpcError) as caught:
        shared.stub.RecordPromise(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == {
        "request_id",
        "expected_version",
        "amount_minor",
        "due_time",
        "payment_channel",
        "note",
    }
    for violation in details(caught.value)["BadRequest"].field_violations:
        assert violation.description, violation.field


def test_rejected_calls_write_no_event(stub):
    case = open_case(stub)
    promised = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=10_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.ALIPAY,
        )
    )
    written = history(stub, case.case_id)
    assert promised.case.version == len(written) == 2
    refused = [
        # Refused by validation.
        lambda: stub.LogContact(
            svc.LogContactRequest(case_id=case.case_id, channel=99, direction=pb.OUTBOUND)
        ),
        lambda: stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case.case_id,
                request_id="r-bad",
                amount_minor=10_000,
                payment_channel=pb.ALIPAY,
                instalments=_instalments((4_000, 2), (4_000, 3)),
            )
        ),
        # Refused by the case once loaded: currency, stage and template checks.
        lambda: stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case.case_id, amount_minor=100, currency="USD", payment_reference="P-USD"
            )
        ),
        lambda: stub.Escalate(
            svc.EscalateRequest(case_id=case.case_id, to_stage=pb.CLOSED, reason="done")
        ),
        lambda: stub.IssueLetter(
            svc.IssueLetterRequest(
                case_id=case.case_id, letter_type=pb.DEMAND, template_id="reminder-cn"
            )
        ),
    ]
    for attempt in refused:
        with pytest.raises(grpc.RpcError) as caught:
            attempt()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert history(stub, case.case_id) == written
    assert stub.GetCase(svc.GetCaseRequest(case_id=case.case_id)).version == 2
    # The payment reference of a refused payment is still free; the next event is version 3.
    paid = stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=case.case_id, amount_minor=100, payment_reference="P-USD")
    )
    assert paid.case.version == 3
    # The request_id of a refused command was not used up either.
    retried = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            request_id="r-bad",
            amount_minor=8_000,
            payment_channel=pb.ALIPAY,
            instalments=_instalments((4_000, 2), (4_000, 3)),
        )
    )
    assert retried.case.version == 4


@pytest.mark.parametrize("case_id", ["not-a-uuid", "12345", UNKNOWN_CASE_ID + "0"])
def test_malformed_case_id_is_invalid_argument(shared, case_id):
    for rpc in ["GetCase", "GetCaseHistory", "LogContact", "CloseCase"]:
        with pytest.raises(grpc.RpcError) as caught:
            call(shared.stub, rpc, build(rpc, case_id, {}))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, rpc
        assert violations(caught.value) == {"case_id"}, rpc


@pytest.mark.parametrize("rpc", ["GetCase", "GetCaseHistory", "CheckContactPermitted", *COMMANDS])
def test_unknown_case_is_not_found_with_resource_info(shared, rpc):
    with pytest.raises(grpc.RpcError) as caught:
        call(shared.stub, rpc, build(rpc, UNKNOWN_CASE_ID, {}))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    info = details(caught.value)["ResourceInfo"]
    assert (info.resource_type, info.resource_name) == ("case", UNKNOWN_CASE_ID)
