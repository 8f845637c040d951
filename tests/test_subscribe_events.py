"""SubscribeEvents: global commit order, resumable, live within 200 ms."""

import threading
import time

import grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import open_case


def _contact(stub, case_id):
    return stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED
        )
    )


def _read(stub, after, count, timeout=10):
    stream = stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=after), timeout=timeout)
    got = []
    for message in stream:
        got.append(message.event)
        if len(got) == count:
            stream.cancel()
            break
    return got


def test_resumed_subscription_delivers_each_event_exactly_once_in_order(stub):
    cases = [open_case(stub) for _ in range(3)]
    for i in range(40):
        _contact(stub, cases[i % 3].case_id)
        if i % 7 == 0:
            # Payments write a uniqueness claim too: it must not show in the stream.
            stub.RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=cases[0].case_id, amount_minor=100, payment_reference=f"R{i}"
                )
            )
    everything = _read(stub, 0, 3 + 40 + 6)
    first = _read(stub, 0, 20)
    saved = first[-1].position
    rest = _read(stub, saved, len(everything) - 20)
    delivered = first + rest
    assert [(e.case_id, e.version) for e in delivered] == [
        (e.case_id, e.version) for e in everything
    ]
    positions = [e.position for e in delivered]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # Per case, versions arrive in order without gaps.
    for case in cases:
        versions = [e.version for e in delivered if e.case_id == case.case_id]
        assert versions == list(range(1, len(versions) + 1))


def test_live_events_reach_a_caught_up_follower_within_200_ms(server):
    stub = server.stub
    case = open_case(stub)
    stream = stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=0), timeout=30)
    received: list[tuple[float, pb.CaseEvent]] = []
    done = threading.Event()

    def follow():
        for message in stream:
            received.append((time.monotonic(), message.event))
            if len(received) == 11:
                done.set()
                return

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.3)  # the follower is caught up and waiting
    delays = []
    for _ in range(10):
        before = len(received)
        sent = time.monotonic()
        _contact(stub, case.case_id)
        while len(received) == before and time.monotonic() - sent < 2:
            time.sleep(0.002)
        delays.append(received[-1][0] - sent)
        time.sleep(0.05)
    done.wait(5)
    stream.cancel()
    thread.join(5)
    assert len(received) == 11
    assert max(delays) < 0.2, delays


def test_events_written_by_another_replica_are_followed(server, db_url, clock):
    """Commits made outside this process are found by polling, not only by local wake-ups."""
    from tests.support import InProcessServer

    other = InProcessServer(db_url, clock)
    try:
        case = open_case(server.stub)
        head = _read(server.stub, 0, 1)[0].position
        stream = server.stub.SubscribeEvents(
            svc.SubscribeEventsRequest(after_position=head), timeout=10
        )
        sent = time.monotonic()
        _contact(other.stub, case.case_id)
        event = next(iter(stream)).event
        latency = time.monotonic() - sent
        stream.cancel()
        assert (event.case_id, event.version, event.type) == (case.case_id, 2, "ContactLogged")
        assert latency < 0.5
    finally:
        other.close()


def test_slow_consumer_does_not_stop_other_calls(server):
    stub = server.stub
    case = open_case(stub)
    for _ in range(30):
        _contact(stub, case.case_id)
    # Ten streams opened and never read: the server must keep serving unary calls.
    streams = [
        stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=0), timeout=20)
        for _ in range(10)
    ]
    try:
        started = time.monotonic()
        for _ in range(20):
            _contact(stub, case.case_id)
        assert time.monotonic() - started < 10
        assert stub.GetCase(svc.GetCaseRequest(case_id=case.case_id), timeout=5).version == 51
    finally:
        for stream in streams:
            stream.cancel()


def test_negative_position_is_rejected(stub):
    try:
        next(iter(stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=-1))))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        raise AssertionError("expected INVALID_ARGUMENT")
