"""GetCase as of a version or a time equals the state replayed up to that point."""

from datetime import timedelta

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.api.convert import case_to_proto
from casebook_case.domain.case import Case
from tests.support import later, open_case, ts


def _replayed(server, case_id: str, version: int) -> Case:
    """Fold the stored events by hand, without snapshots or caches."""
    from uuid import UUID

    events = list(server.app.events.get(UUID(case_id), lte=version))
    case = None
    for event in events:
        case = event.mutate(case)
    return case


def test_case_as_of_each_version_equals_replay_up_to_it(server, clock):
    stub = server.stub
    case = open_case(stub, amount=500_000)
    promise = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=200_000,
            due_time=ts(later(days=5)),
            payment_channel=pb.BANK_TRANSFER,
        )
    )
    # Enough events to pass a snapshot (every 100 versions) and land between two.
    for i in range(130):
        clock.advance(timedelta(minutes=1))
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED
            )
        )
        if i == 60:
            stub.RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=case.case_id, amount_minor=200_000, payment_reference="P-60"
                )
            )
    head = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id)).version
    assert head == 134
    for version in (1, 2, 50, 64, 65, 99, 100, 101, 133, 134):
        shown = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=version))
        replayed = _replayed(server, case.case_id, version)
        expected = case_to_proto(replayed, replayed.last_recorded_at)
        assert shown == expected, version
    assert server.app.snapshots is not None
    # Version 64 is the payment, 65 the promise kept by it: both are visible as they stood.
    paid = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=64))
    assert paid.promises[0].promise_id == promise.promise_id
    assert (paid.promises[0].status, paid.promises[0].paid_minor) == (pb.Promise.OPEN, 200_000)
    kept = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=65))
    assert kept.promises[0].status == pb.Promise.KEPT


def test_case_as_of_time_shows_what_was_recorded_by_then(stub, clock):
    case = open_case(stub)
    opened_at = clock.now()
    clock.advance(timedelta(hours=1))
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case.case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED
        )
    )
    clock.advance(timedelta(hours=1))
    stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="amount wrong"))

    def as_of(instant):
        return stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_time=ts(instant)))

    assert as_of(opened_at).version == 1
    assert as_of(opened_at + timedelta(minutes=59)).version == 1
    assert as_of(opened_at + timedelta(hours=1)).version == 2
    assert as_of(opened_at + timedelta(hours=1, minutes=59)).disputes == []
    assert len(as_of(opened_at + timedelta(hours=2)).disputes) == 1
    # Days past due are counted at the instant asked about, not now.
    clock.advance(timedelta(days=10))
    assert as_of(opened_at).days_past_due == case.days_past_due
    with pytest.raises(grpc.RpcError) as before_opening:
        as_of(opened_at - timedelta(seconds=1))
    assert before_opening.value.code() == grpc.StatusCode.NOT_FOUND


def test_version_beyond_the_head_is_not_found(stub):
    case = open_case(stub)
    with pytest.raises(grpc.RpcError) as error:
        stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=2))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_long_case_is_read_from_a_snapshot_not_replayed_from_the_start(server):
    stub = server.stub
    case = open_case(stub)
    for _ in range(250):
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id, channel=pb.EMAIL, direction=pb.OUTBOUND, outcome=pb.DELIVERED
            )
        )
    from uuid import UUID

    snapshots = list(server.app.snapshots.get(UUID(case.case_id), desc=True, limit=1))
    assert snapshots[0].originator_version == 200
    assert stub.GetCase(svc.GetCaseRequest(case_id=case.case_id)).version == 251


def test_case_as_of_time_on_a_long_history_with_snapshots(server, clock):
    """250 events a minute apart, snapshots at 100 and 200: every instant asked about
    finds the version recorded by then, and shows it as replaying the events would."""
    stub = server.stub
    case = open_case(stub)
    recorded = {1: clock.now()}
    for version in range(2, 251):
        clock.advance(timedelta(minutes=1))
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id, channel=pb.EMAIL, direction=pb.OUTBOUND, outcome=pb.DELIVERED
            )
        )
        recorded[version] = clock.now()
    from uuid import UUID

    snapshots = [s.originator_version for s in server.app.snapshots.get(UUID(case.case_id))]
    assert snapshots == [100, 200]
    for version in (1, 2, 99, 100, 101, 150, 199, 200, 201, 250):
        for instant in (recorded[version], recorded[version] + timedelta(seconds=59)):
            shown = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_time=ts(instant)))
            replayed = _replayed(server, case.case_id, version)
            assert shown == case_to_proto(replayed, instant), (version, instant)
