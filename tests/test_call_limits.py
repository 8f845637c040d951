"""Limits a caller meets: the largest message, and the longest a call may take."""

from __future__ import annotations

import uuid
from uuid import UUID

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import InProcessServer, history, open_case


@pytest.fixture
def limited(db_url, clock):
    # The limit must be passed by the held call and never by the retries on a loaded machine.
    server = InProcessServer(db_url, clock, max_message_bytes=64 * 1024, call_timeout_seconds=2)
    try:
        yield server
    finally:
        server.close()


def test_a_message_over_the_size_limit_is_refused_and_writes_nothing(limited):
    head = limited.app.head_position()
    with pytest.raises(grpc.RpcError) as error:
        limited.stub.OpenCase(
            svc.OpenCaseRequest(
                request_id=uuid.uuid4().hex,
                account_id="ACC-BIG",
                debtor=pb.Debtor(name="x" * 100_000, time_zone="Asia/Shanghai"),
                overdue_amount_minor=100,
                currency="CNY",
                days_past_due=30,
            )
        )
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert limited.app.head_position() == head


def test_a_call_held_past_the_time_limit_is_answered_and_its_retry_lands_once(limited):
    case_id = open_case(limited.stub).case_id
    contact = svc.LogContactRequest(
        case_id=case_id,
        request_id="contact-1",
        channel=pb.SMS,
        direction=pb.OUTBOUND,
        outcome=pb.DELIVERED,
    )
    lock = limited.app._lock_for(UUID(case_id))  # another command is holding the case
    lock.acquire()
    try:
        with pytest.raises(grpc.RpcError) as error:
            limited.stub.LogContact(contact, timeout=10)  # the caller would wait longer
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "retry with the same request_id" in error.value.details()
    finally:
        lock.release()
    # The outcome was unknown to the caller; its retry settles it, exactly once.
    limited.stub.LogContact(contact, timeout=10)
    limited.stub.LogContact(contact, timeout=10)
    types = [e.type for e in history(limited.stub, case_id)]
    assert types == ["CaseOpened", "ContactLogged"]
