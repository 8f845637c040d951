"""Notify against a case service that wants mutual TLS and tokens: with its certificate and
its notify token it follows the events and breaks an unpaid promise (one alert, recorded
under the token's subject); with a token the case service does not accept it can do neither,
says so in its log, and catches up once the token file is replaced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook.v1 import notify_service_pb2 as npb
from casebook.v1 import notify_service_pb2_grpc as nrpc
from casebook_common.clock import ManualClock
from casebook_common.security import AGENT, NOTIFY, SUPERVISOR, SYSTEM
from casebook_notify import case_client
from casebook_notify.config import NotifyConfig
from tests.notify.harness import Notify, eventually
from tests.security.calls import captured_logs
from tests.support import (
    T0,
    InProcessServer,
    client_channel,
    fresh_postgres_database,
    history,
    open_case,
    ts,
)

DUE = T0 + timedelta(hours=6)


class SecureStack:
    def __init__(self, db_url: str, notify_db: str, pki: Any, tmp_path: Path) -> None:
        self.pki = pki
        self.clock = ManualClock(T0)
        self.case = InProcessServer(
            db_url,
            self.clock,
            security=pki.security(),
            credentials=pki.credentials(),
            token=pki.token("core-banking", SYSTEM),
        )
        self.agent_channel = client_channel(
            f"127.0.0.1:{self.case.port}", pki.credentials(), pki.token("agent-7", AGENT)
        )
        self.token_file = tmp_path / "notify.token"
        self.notify_db = notify_db
        self.started: list[Notify] = []

    def start_notify(self, token: str) -> Notify:
        self.token_file.write_text(token + "\n")
        config = NotifyConfig(
            db_url=self.notify_db,
            listen="127.0.0.1:0",
            case_address=f"127.0.0.1:{self.case.port}",
            reminder_offsets=(),
            reminder_channels=(),
            tick=timedelta(milliseconds=50),
            security=self.pki.security(),
            case_ca_file=str(self.pki.ca),
            case_cert_file=str(self.pki.client_cert),
            case_key_file=str(self.pki.client_key),
            case_token_file=str(self.token_file),
        )
        notify = Notify(config, self.clock)
        self.started.append(notify)
        # Notify's own API wants TLS and a token too: read it as a supervisor would.
        notify.channel.close()
        notify.channel = client_channel(
            f"127.0.0.1:{notify.running.port}",
            self.pki.credentials(),
            self.pki.token("supervisor-2", SUPERVISOR),
        )
        notify.stub = nrpc.NotifyServiceStub(notify.channel)
        return notify

    def promise_due(self) -> tuple[str, str]:
        case_id = open_case(self.case.stub).case_id
        agent = rpc.CaseServiceStub(self.agent_channel)
        promise_id = agent.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                request_id=uuid.uuid4().hex,
                amount_minor=30_000,
                due_time=ts(DUE),
                payment_channel=pb.ALIPAY,
            )
        ).promise_id
        return case_id, promise_id

    def close(self) -> None:
        for notify in self.started:
            notify.close()
        self.agent_channel.close()
        self.case.close()


@pytest.fixture
def secure_stack(db_url, pki, tmp_path) -> Iterator[SecureStack]:
    if db_url.startswith("sqlite"):
        stack = SecureStack(db_url, f"sqlite:///{tmp_path}/notify.db", pki, tmp_path)
        try:
            yield stack
        finally:
            stack.close()
    else:
        with fresh_postgres_database() as notify_db:
            stack = SecureStack(db_url, notify_db, pki, tmp_path)
            try:
                yield stack
            finally:
                stack.close()


def _broken_events(stack: SecureStack, case_id: str) -> list[pb.CaseEvent]:
    return [e for e in history(stack.case.stub, case_id) if e.type == "PromiseBroken"]


def test_notify_with_its_certificate_and_token_breaks_an_unpaid_promise_once(secure_stack):
    notify = secure_stack.start_notify(secure_stack.pki.token("svc-notify", NOTIFY))
    case_id, promise_id = secure_stack.promise_due()
    eventually(lambda: notify.deadline_rows(case_id), what="notify followed the events")

    secure_stack.clock.set(DUE + timedelta(seconds=1))
    (alert,) = eventually(lambda: notify.alerts(), what="one alert")
    assert (alert.kind, alert.case_id, alert.promise_id) == (
        npb.BROKEN_PROMISE,
        case_id,
        promise_id,
    )
    (broken,) = _broken_events(secure_stack, case_id)
    assert broken.actor == "svc-notify"  # the token's subject, not the metadata's "notify"
    notify.wait_ticks(3)
    assert len(notify.alerts()) == 1 and len(_broken_events(secure_stack, case_id)) == 1

    acknowledged = notify.stub.AcknowledgeAlert(
        npb.AcknowledgeAlertRequest(alert_id=alert.alert_id, agent_id="someone-else")
    )
    assert acknowledged.acknowledged_by == "supervisor-2"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_a_valid_token_notify_cannot_follow_says_why_and_recovers_on_rotation(
    secure_stack,
):
    pki = secure_stack.pki
    case_client._last_logged.clear()  # its refusal log is rate-limited per process
    forged = pki.token("svc-notify", NOTIFY, key=pki.forger_key)
    with captured_logs() as logs:
        notify = secure_stack.start_notify(forged)
        case_id, promise_id = secure_stack.promise_due()
        secure_stack.clock.set(DUE + timedelta(seconds=1))
        refusal = eventually(
            lambda: [e for e in logs if e.get("event") == "case_service_refused_credentials"],
            what="notify logs the refusal",
        )[0]
        notify.wait_ticks(3)
        assert notify.deadline_rows(case_id) == [] and notify.alerts() == []
        assert _broken_events(secure_stack, case_id) == []

        # An agent's token is no better: authenticated, but not allowed to follow events.
        secure_stack.token_file.write_text(pki.token("agent-1", AGENT))
        eventually(
            lambda: any(e.get("reason") == "ROLE_NOT_ALLOWED" for e in logs),
            timeout=10,
            what="the agent token refused",
        )
        assert notify.alerts() == []

        secure_stack.token_file.write_text(pki.token("svc-notify", NOTIFY))  # rotated
        (alert,) = eventually(lambda: notify.alerts(), timeout=15, what="caught up after rotation")
    assert alert.promise_id == promise_id
    assert (refusal["code"], refusal["reason"], refusal["call"]) == (
        "UNAUTHENTICATED",
        "TOKEN_INVALID",
        "SubscribeEvents",
    )
    for part in forged.split("."):
        assert part not in repr(logs)
    (broken,) = _broken_events(secure_stack, case_id)
    assert broken.actor == "svc-notify"
