"""Conduct rules enforced through the API: refusals, their details, and the audit trail."""

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import details, history, open_case, ts

# 2026-11-23 is a Monday; Shanghai is UTC+8 all year.
MONDAY_2300_SHANGHAI = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
TUESDAY_0800_SHANGHAI = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def _call(stub, case_id, **fields):
    request = dict(channel=pb.PHONE, direction=pb.OUTBOUND, outcome=pb.NO_ANSWER)
    request.update(fields)
    return stub.LogContact(svc.LogContactRequest(case_id=case_id, **request))


def _refusal(call):
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error = raised.value
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    return details(error)


def test_night_call_is_refused_with_reason_and_next_permitted_time_and_recorded(stub, clock):
    case = open_case(stub)
    clock.set(MONDAY_2300_SHANGHAI)
    found = _refusal(lambda: _call(stub, case.case_id, request_id="night-1"))
    info = found["ErrorInfo"]
    assert info.reason == "OUTSIDE_CONTACT_HOURS"
    assert datetime.fromisoformat(info.metadata["next_permitted_time"]) == TUESDAY_0800_SHANGHAI
    assert info.metadata["profile"] == "CN"
    assert [v.type for v in found["PreconditionFailure"].violations] == ["OUTSIDE_CONTACT_HOURS"]
    events = history(stub, case.case_id)
    assert [e.type for e in events] == ["CaseOpened", "ContactRefused"]
    assert '"reasons":["OUTSIDE_CONTACT_HOURS"]' in events[-1].payload_json
    shown = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
    assert shown.contact_attempts == 0
    # A retry meets the same refusal and records nothing more.
    again = _refusal(lambda: _call(stub, case.case_id, request_id="night-1"))
    assert again["ErrorInfo"].reason == "OUTSIDE_CONTACT_HOURS"
    assert len(history(stub, case.case_id)) == 2


def test_inbound_call_at_night_and_on_a_closed_case_is_recorded(stub, clock):
    case = open_case(stub)
    clock.set(MONDAY_2300_SHANGHAI)
    _call(stub, case.case_id, direction=pb.INBOUND, outcome=pb.RIGHT_PARTY_VERIFIED)
    stub.CloseCase(svc.CloseCaseRequest(case_id=case.case_id, reason=pb.WRITTEN_OFF))
    shown = _call(stub, case.case_id, direction=pb.INBOUND, outcome=pb.RIGHT_PARTY_VERIFIED)
    assert shown.contact_attempts == 2
    found = _refusal(lambda: _call(stub, case.case_id, direction=pb.OUTBOUND))
    assert "CASE_CLOSED" in found["ErrorInfo"].metadata["reasons"].split(",")


def test_cease_request_blocks_that_channel_only(stub):
    case = open_case(stub)
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE))
    found = _refusal(lambda: _call(stub, case.case_id))
    assert found["ErrorInfo"].reason == "CEASE_REQUESTED"
    assert "next_permitted_time" not in found["ErrorInfo"].metadata
    _call(stub, case.case_id, channel=pb.SMS, outcome=pb.DELIVERED)


def test_open_dispute_blocks_contact_until_resolved(stub):
    case = open_case(stub)
    raised = stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="not mine"))
    assert _refusal(lambda: _call(stub, case.case_id))["ErrorInfo"].reason == "DISPUTE_OPEN"
    stub.ResolveDispute(
        svc.ResolveDisputeRequest(
            case_id=case.case_id, dispute_id=raised.dispute_id, resolution="statement sent"
        )
    )
    _call(stub, case.case_id)


def test_hold_blocks_contact_until_it_ends_or_is_released(stub, clock):
    case = open_case(stub)
    placed = stub.PlaceHold(
        svc.PlaceHoldRequest(
            case_id=case.case_id,
            kind=pb.HARDSHIP,
            until=ts(clock.now() + timedelta(hours=2)),
            reason="lost job",
        )
    )
    assert placed.case.holds[0].active
    found = _refusal(lambda: _call(stub, case.case_id))
    assert found["ErrorInfo"].reason == "HOLD_ACTIVE"
    clock.advance(timedelta(hours=2))
    _call(stub, case.case_id)
    complaint = stub.PlaceHold(
        svc.PlaceHoldRequest(case_id=case.case_id, kind=pb.COMPLAINT, reason="complaint")
    )
    assert _refusal(lambda: _call(stub, case.case_id))["ErrorInfo"].reason == "HOLD_ACTIVE"
    stub.ReleaseHold(
        svc.ReleaseHoldRequest(case_id=case.case_id, hold_id=complaint.hold_id, reason="handled")
    )
    _call(stub, case.case_id)


def test_seventh_unanswered_call_in_a_day_is_refused_in_cn(stub, clock):
    case = open_case(stub)
    for _ in range(6):
        _call(stub, case.case_id)
        clock.advance(timedelta(minutes=10))
    found = _refusal(lambda: _call(stub, case.case_id))
    assert found["ErrorInfo"].reason == "FREQUENCY_LIMIT"
    # An answered call on another channel is still fine.
    _call(stub, case.case_id, channel=pb.SMS, outcome=pb.DELIVERED)


def test_third_party_must_not_hear_about_the_debt(stub):
    case = open_case(stub)
    found = _refusal(lambda: _call(stub, case.case_id, outcome=pb.THIRD_PARTY, debt_disclosed=True))
    assert found["ErrorInfo"].reason == "THIRD_PARTY_DISCLOSURE"
    _call(stub, case.case_id, outcome=pb.THIRD_PARTY, debt_disclosed=False)


def test_us_profile_refuses_a_call_at_nine_pm_new_york(stub, clock):
    case = open_case(stub, time_zone="America/New_York", profile="US_REG_F")
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # 21:00 EST
    found = _refusal(lambda: _call(stub, case.case_id))
    assert found["ErrorInfo"].reason == "OUTSIDE_CONTACT_HOURS"
    assert found["ErrorInfo"].metadata["profile"] == "US_REG_F"


def test_logged_contact_records_the_profile_that_allowed_it(stub):
    case = open_case(stub)
    _call(stub, case.case_id)
    event = history(stub, case.case_id)[-1]
    assert '"profile":"CN"' in event.payload_json and '"profile_version":' in event.payload_json


def test_check_contact_permitted_lists_all_reasons_and_writes_nothing(stub, clock):
    case = open_case(stub)
    check = stub.CheckContactPermitted(
        svc.CheckContactPermittedRequest(case_id=case.case_id, channel=pb.PHONE)
    )
    assert check.permitted and list(check.reasons) == []
    night = stub.CheckContactPermitted(
        svc.CheckContactPermittedRequest(
            case_id=case.case_id, channel=pb.PHONE, at=ts(MONDAY_2300_SHANGHAI)
        )
    )
    assert not night.permitted
    assert list(night.reasons) == ["OUTSIDE_CONTACT_HOURS"]
    assert night.next_permitted_time.ToDatetime(tzinfo=UTC) == TUESDAY_0800_SHANGHAI
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=case.case_id, channel=pb.PHONE))
    both = stub.CheckContactPermitted(
        svc.CheckContactPermittedRequest(
            case_id=case.case_id, channel=pb.PHONE, at=ts(MONDAY_2300_SHANGHAI)
        )
    )
    assert set(both.reasons) == {"OUTSIDE_CONTACT_HOURS", "CEASE_REQUESTED"}
    assert not both.HasField("next_permitted_time")  # a cease does not pass with time
    assert len(history(stub, case.case_id)) == 2  # opened + cease: checks wrote nothing


def test_check_contact_permitted_needs_a_channel(stub):
    case = open_case(stub)
    with pytest.raises(grpc.RpcError) as error:
        stub.CheckContactPermitted(svc.CheckContactPermittedRequest(case_id=case.case_id))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_legal_needs_an_aged_final_notice_and_agency_needs_no_dispute(stub, clock):
    case = open_case(stub, dpd=95)
    found = _refusal(
        lambda: stub.Escalate(
            svc.EscalateRequest(case_id=case.case_id, to_stage=pb.LEGAL, reason="no payment")
        )
    )
    assert found["ErrorInfo"].reason == "FINAL_NOTICE_REQUIRED"
    stub.IssueLetter(svc.IssueLetterRequest(case_id=case.case_id, letter_type=pb.FINAL_NOTICE))
    clock.advance(timedelta(days=30))
    disputed = stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="amount"))
    found = _refusal(
        lambda: stub.Escalate(
            svc.EscalateRequest(case_id=case.case_id, to_stage=pb.AGENCY, reason="placement")
        )
    )
    assert found["ErrorInfo"].reason == "DISPUTE_OPEN"
    stub.ResolveDispute(
        svc.ResolveDisputeRequest(
            case_id=case.case_id, dispute_id=disputed.dispute_id, resolution="confirmed"
        )
    )
    shown = stub.Escalate(
        svc.EscalateRequest(case_id=case.case_id, to_stage=pb.LEGAL, reason="no payment")
    )
    assert shown.stage == pb.LEGAL
