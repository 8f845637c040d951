"""AssignCase: a case is given to someone to work, and the history says who did it and why."""

from __future__ import annotations

import json

import grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import get, history, open_case, refused

SUPERVISOR = (("x-casebook-actor", "supervisor:li"),)


def test_assigning_a_case_shows_the_assignee_and_records_who_and_why(stub):
    case = open_case(stub)
    assert case.assignee == ""
    assigned = stub.AssignCase(
        svc.AssignCaseRequest(
            case_id=case.case_id, assignee="agent:7", note="speaks Cantonese", request_id="a-1"
        ),
        metadata=SUPERVISOR,
    )
    assert (assigned.assignee, assigned.version) == ("agent:7", 2)
    assert get(stub, case.case_id).assignee == "agent:7"

    moved = stub.AssignCase(
        svc.AssignCaseRequest(case_id=case.case_id, assignee="team:late", note="moved to LATE"),
        metadata=SUPERVISOR,
    )
    assert moved.assignee == "team:late"
    events = [e for e in history(stub, case.case_id) if e.type == "CaseAssigned"]
    assert [e.actor for e in events] == ["supervisor:li", "supervisor:li"]
    payloads = [json.loads(e.payload_json) for e in events]
    assert payloads == [
        {"assignee": "agent:7", "previous_assignee": "", "note": "speaks Cantonese"},
        {"assignee": "team:late", "previous_assignee": "agent:7", "note": "moved to LATE"},
    ]


def test_a_retry_writes_nothing_and_assigning_the_same_assignee_is_a_no_op(stub):
    case = open_case(stub)
    request = svc.AssignCaseRequest(case_id=case.case_id, assignee="agent:7", request_id="a-2")
    first = stub.AssignCase(request)
    again = stub.AssignCase(request)
    same = stub.AssignCase(svc.AssignCaseRequest(case_id=case.case_id, assignee="agent:7"))
    assert first.version == again.version == same.version == 2
    assert len(history(stub, case.case_id)) == 2
    # The position a caller waits for to read its own write is where the write landed.
    assert first.log_position > 0 and again.log_position >= first.log_position


def test_expected_version_and_closed_cases_are_respected(stub):
    case = open_case(stub)
    refused(
        lambda: stub.AssignCase(
            svc.AssignCaseRequest(case_id=case.case_id, assignee="agent:7", expected_version=5)
        ),
        grpc.StatusCode.ABORTED,
        "VERSION_MISMATCH",
    )
    stub.CloseCase(svc.CloseCaseRequest(case_id=case.case_id, reason=pb.OPENED_IN_ERROR))
    refused(
        lambda: stub.AssignCase(svc.AssignCaseRequest(case_id=case.case_id, assignee="agent:7")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CASE_CLOSED",
    )
    assert get(stub, case.case_id).assignee == ""
