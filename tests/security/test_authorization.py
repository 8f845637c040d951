"""The authorization tables, enforced: every RPC of both services against every role, with
real tokens over mutual TLS, on SQLite and PostgreSQL; the rules the bank asked for; the
request-content rule; and the actor of every event being the token's subject."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.message_factory import GetMessageClass

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2, notify_service_pb2_grpc
from casebook_case.api.authz import CASE_SERVICE
from casebook_common.clock import ManualClock
from casebook_common.security import AGENT, AUDITOR, NOTIFY, SUPERVISOR, SYSTEM
from casebook_notify.authz import NOTIFY_SERVICE
from casebook_notify.config import NotifyConfig
from casebook_notify.server import start_notify
from tests.security.calls import ROLES, Callers
from tests.support import (
    T0,
    InProcessServer,
    client_channel,
    details,
    fresh_postgres_database,
    history,
    open_case,
    postgres_available,
    refused,
)

CASE_RPCS = svc.DESCRIPTOR.services_by_name["CaseService"].methods
NOTIFY_RPCS = notify_service_pb2.DESCRIPTOR.services_by_name["NotifyService"].methods
NO_ROLE = "(no role)"  # a valid token that carries no casebook role
CALLERS = (*ROLES, NO_ROLE)
READS = {
    "GetCase",
    "ListCases",
    "GetCaseHistory",
    "VerifyCaseHistory",
    "GetLedgerDigest",
    "GetPortfolioStats",
    "CheckContactPermitted",
}


# ------------------------------------------------------------------ the tables themselves
@pytest.mark.parametrize(
    ("table", "rpcs"), [(CASE_SERVICE, CASE_RPCS), (NOTIFY_SERVICE, NOTIFY_RPCS)]
)
def test_every_rpc_of_the_service_has_exactly_one_row(table, rpcs):
    names = {method.name for method in rpcs}
    assert set(table.rows) - names == set(), "rows for RPCs the service does not have"
    assert names - set(table.rows) == set(), "RPCs without a row are refused to everyone"
    assert table.service == rpcs[0].containing_service.full_name


def test_the_rules_the_bank_asked_for():
    def roles(method: str, **request: Any) -> set[str]:
        message = GetMessageClass(CASE_SERVICE_METHODS[method].input_type)(**request)
        return set(CASE_SERVICE.rows[method].roles_for(message)[0])

    auditor_may = {m.name for m in CASE_RPCS if AUDITOR in roles(m.name)}
    assert auditor_may == READS, "auditors read, and only read"
    assert roles("ApproveArrangement") == {SUPERVISOR}
    assert roles("MarkPromiseBroken") == {NOTIFY, SYSTEM}
    assert AGENT in roles("CloseCase", reason=pb.PAID_IN_FULL)
    assert roles("CloseCase", reason=pb.WRITTEN_OFF) == {SUPERVISOR, SYSTEM}
    assert roles("SubscribeEvents") == {SYSTEM, NOTIFY}
    notify_needs = {"GetCase", "CheckContactPermitted", "SubscribeEvents", "MarkPromiseBroken",
                    "LogContact"}  # fmt: skip
    assert {m.name for m in CASE_RPCS if NOTIFY in roles(m.name)} == notify_needs
    assert set(NOTIFY_SERVICE.rows["AcknowledgeAlert"].roles) == {AGENT, SUPERVISOR}
    for read in ("ListAlerts", "WatchAlerts", "ListReminders"):
        assert set(NOTIFY_SERVICE.rows[read].roles) == {AGENT, SUPERVISOR, AUDITOR, SYSTEM}


CASE_SERVICE_METHODS = {m.name: m for m in CASE_RPCS}


# ------------------------------------------------------- every RPC x every role, enforced
def _require_postgres() -> None:
    import os

    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")


class Table:
    """A secured case service with one case, and a stub per caller."""

    def __init__(self, server: InProcessServer, callers: Callers) -> None:
        self.server = server
        self.callers = callers
        self.stubs = {role: callers.as_role(role) for role in ROLES}
        self.stubs[NO_ROLE] = callers.stub(callers.pki.token("nobody-1"))
        self.case_id = open_case(self.stubs[SYSTEM]).case_id


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def table(request, pki, tmp_path_factory) -> Iterator[Table]:
    if request.param == "sqlite":
        urls: Any = iter([f"sqlite:///{tmp_path_factory.mktemp('table')}/case.db"])
        cleanup = None
    else:
        _require_postgres()
        cleanup = fresh_postgres_database()
        urls = iter([cleanup.__enter__()])
    server = InProcessServer(next(urls), ManualClock(T0), security=pki.security())
    callers = Callers(pki, server.port)
    try:
        yield Table(server, callers)
    finally:
        callers.close()
        server.close()
        if cleanup is not None:
            cleanup.__exit__(None, None, None)


def _call(stub: Any, method: Any, case_id: str) -> None:
    """One call with the method's request (its case_id set when it has one), read to its
    first answer; raises grpc.RpcError when refused or failed."""
    request = GetMessageClass(method.input_type)()
    if "case_id" in request.DESCRIPTOR.fields_by_name:
        request.case_id = case_id
    rpc = getattr(stub, method.name)
    if method.client_streaming:
        rpc(iter(()), timeout=10)
    elif method.server_streaming:
        stream = rpc(request, timeout=10)
        next(stream, None)
        stream.cancel()
    else:
        rpc(request, timeout=10)


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("method", CASE_RPCS, ids=lambda m: m.name)
def test_case_service_rpc_is_open_exactly_to_its_roles(table, method, role):
    request = GetMessageClass(method.input_type)()
    allowed = CASE_SERVICE.rows[method.name].roles_for(request)[0]
    try:
        _call(table.stubs[role], method, table.case_id)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
        refusal = error
    if role in allowed:
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED
        info = details(refusal)["ErrorInfo"]
        assert info.reason == "ROLE_NOT_ALLOWED"
        assert info.metadata["method"] == f"/casebook.v1.CaseService/{method.name}"
        assert info.metadata["allowed_roles"] == ",".join(sorted(allowed))


# ----------------------------------------------------------------- the notify service
@pytest.fixture(scope="module")
def notify(pki, tmp_path_factory) -> Iterator[Any]:
    """Notify with mutual TLS and tokens (its case service is not needed to read alerts)."""
    import asyncio
    import threading

    directory = tmp_path_factory.mktemp("notify")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = NotifyConfig(
        db_url=f"sqlite:///{directory}/notify.db",
        listen="127.0.0.1:0",
        case_address="127.0.0.1:1",  # nothing there: the follower just retries
        reminder_channels=(),
        security=pki.security(),
    )
    running = asyncio.run_coroutine_threadsafe(start_notify(config, ManualClock(T0)), loop).result(
        30
    )
    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("method", NOTIFY_RPCS, ids=lambda m: m.name)
def test_notify_service_rpc_is_open_exactly_to_its_roles(pki, notify, method, role):
    token = pki.token("nobody-1") if role == NO_ROLE else pki.token(f"{role}-1", role)
    channel = client_channel(f"127.0.0.1:{notify.port}", pki.credentials(), token)
    stub = notify_service_pb2_grpc.NotifyServiceStub(channel)
    request = GetMessageClass(method.input_type)()
    if "case_id" in request.DESCRIPTOR.fields_by_name:
        request.case_id = "case-1"
    try:
        if method.server_streaming:
            stream = getattr(stub, method.name)(request, timeout=0.5)
            next(stream, None)  # an allowed watch waits for alerts: DEADLINE_EXCEEDED
        else:
            getattr(stub, method.name)(request, timeout=10)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    finally:
        channel.close()
    if role in NOTIFY_SERVICE.rows[method.name].roles:
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED


# ------------------------------------------------------------- rules that read the request
def _paid_off_case(system: Any) -> str:
    case = open_case(system, amount=100_000)
    system.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=case.case_id, amount_minor=100_000, payment_reference=uuid.uuid4().hex
        )
    )
    return case.case_id


def _close(stub: Any, case_id: str, reason: int) -> pb.Case:
    return stub.CloseCase(svc.CloseCaseRequest(case_id=case_id, reason=reason), timeout=10)


def test_an_agent_cannot_write_a_case_off_but_closes_one_paid_in_full(callers):
    agent, system = callers.as_role(AGENT), callers.as_role(SYSTEM)
    case_id = _paid_off_case(system)
    before = len(history(system, case_id))

    error = refused(
        lambda: _close(agent, case_id, pb.WRITTEN_OFF),
        grpc.StatusCode.PERMISSION_DENIED,
        "ROLE_NOT_ALLOWED",
    )
    info = details(error)["ErrorInfo"]
    assert info.metadata["allowed_roles"] == "supervisor,system"
    assert info.metadata["condition"] == "reason WRITTEN_OFF"
    assert "WRITTEN_OFF" in error.details()
    assert len(history(system, case_id)) == before, "a refused call writes nothing"

    closed = _close(agent, case_id, pb.PAID_IN_FULL)
    assert (closed.stage, closed.close_reason) == (pb.CLOSED, pb.PAID_IN_FULL)


@pytest.mark.parametrize("role", [SUPERVISOR, SYSTEM])
def test_supervisors_and_core_banking_write_cases_off(callers, role):
    case_id = open_case(callers.as_role(SYSTEM)).case_id
    closed = _close(callers.as_role(role), case_id, pb.WRITTEN_OFF)
    assert closed.close_reason == pb.WRITTEN_OFF


def test_only_a_supervisor_approves_a_concession_above_the_limit(callers):
    agent, supervisor = callers.as_role(AGENT), callers.as_role(SUPERVISOR)
    case_id = open_case(callers.as_role(SYSTEM), amount=200_000).case_id
    proposed = agent.ProposeArrangement(
        svc.ProposeArrangementRequest(case_id=case_id, kind=pb.WAIVER, waiver_minor=80_000)
    )
    approve = svc.ApproveArrangementRequest(case_id=case_id, arrangement_id=proposed.arrangement_id)
    refused(lambda: agent.ApproveArrangement(approve), grpc.StatusCode.PERMISSION_DENIED)
    approved = supervisor.ApproveArrangement(approve)
    assert approved.balance_minor == 120_000


# ---------------------------------------------------------------------------- the actor
def test_every_event_and_read_is_recorded_under_the_token_subject_not_the_metadata(
    callers, secured
):
    liar = (("x-casebook-actor", "supervisor-boss"),)
    system = callers.stub(callers.pki.token("core-banking", SYSTEM))
    agent = callers.stub(callers.pki.token("agent-7", AGENT))
    case = system.OpenCase(
        svc.OpenCaseRequest(
            request_id=uuid.uuid4().hex,
            account_id="ACC-1",
            debtor=pb.Debtor(name="Li Lei", phone="+8613800138000", time_zone="Asia/Shanghai"),
            overdue_amount_minor=50_000,
            currency="CNY",
            days_past_due=31,
        ),
        metadata=liar,
    )
    agent.LogContact(
        svc.LogContactRequest(
            case_id=case.case_id,
            channel=pb.PHONE,
            direction=pb.INBOUND,
            outcome=pb.RIGHT_PARTY_VERIFIED,
            agent_id="someone-else",
        ),
        metadata=liar,
    )
    agent.GetCase(svc.GetCaseRequest(case_id=case.case_id), metadata=liar)
    events = history(system, case.case_id)
    assert [(e.type, e.actor) for e in events] == [
        ("CaseOpened", "core-banking"),
        ("ContactLogged", "agent-7"),
    ]
    readers = {e.actor for e in secured.app.access_log.entries(case.case_id)}
    assert readers == {"agent-7", "core-banking"}  # GetCase by the agent, history by system
