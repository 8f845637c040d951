"""SubscribeEvents: global commit order, resumable, live within 200 ms."""

import threading
import time

import grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import open_case


def _contact(stub, case_id, note=""):
    return stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED, note=note
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


def _read_batched(stub, after, count, per_message, timeout=10):
    """Events in the order received, and how many each message carried."""
    stream = stub.SubscribeEvents(
        svc.SubscribeEventsRequest(after_position=after, max_events_per_message=per_message),
        timeout=timeout,
    )
    events, sizes = [], []
    for message in stream:
        assert not message.HasField("event")  # batched messages use `events` only
        events.extend(message.events)
        sizes.append(len(message.events))
        if len(events) >= count:
            stream.cancel()
            break
    return events, sizes


def test_batched_subscription_delivers_the_same_events_in_fewer_messages(stub):
    cases = [open_case(stub) for _ in range(4)]
    for i in range(60):
        _contact(stub, cases[i % 4].case_id)
    one_by_one = _read(stub, 0, 64)
    batched, sizes = _read_batched(stub, 0, 64, per_message=25)
    assert [(e.position, e.case_id, e.version, e.payload_json) for e in batched] == [
        (e.position, e.case_id, e.version, e.payload_json) for e in one_by_one
    ]
    assert max(sizes) == 25 and min(sizes) >= 1 and sum(sizes) == 64
    # Resuming from the last position of a batch carries on without a gap.
    rest, _ = _read_batched(stub, batched[39].position, 24, per_message=500)
    assert [e.position for e in rest] == [e.position for e in one_by_one[40:]]


def test_batched_subscription_follows_live_events(server):
    stub = server.stub
    case = open_case(stub)
    stream = stub.SubscribeEvents(
        svc.SubscribeEventsRequest(after_position=0, max_events_per_message=100), timeout=30
    )
    received: list[pb.CaseEvent] = []

    def follow() -> None:
        try:
            for message in stream:
                received.extend(message.events)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.CANCELLED  # the test's own cancel

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        for _ in range(5):
            _contact(stub, case.case_id)
        deadline = time.monotonic() + 5
        while len(received) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [e.version for e in received] == [1, 2, 3, 4, 5, 6]
    finally:
        stream.cancel()
        thread.join(5)


def test_batched_messages_stay_within_a_quarter_of_the_message_limit(db_url, clock):
    from tests.support import InProcessServer

    server = InProcessServer(db_url, clock, max_message_bytes=16_000)  # 4,000 a message
    try:
        stub = server.stub
        case = open_case(stub)
        for _ in range(20):
            _contact(stub, case.case_id, note="n" * 1_000)
        stream = stub.SubscribeEvents(
            svc.SubscribeEventsRequest(after_position=0, max_events_per_message=500), timeout=10
        )
        seen, sizes = 0, []
        for message in stream:
            sizes.append(message.ByteSize())
            seen += len(message.events)
            if seen == 21:
                stream.cancel()
                break
    finally:
        server.close()
    assert len(sizes) > 5 and max(sizes) <= 4_000, sizes


def test_negative_events_per_message_is_rejected(stub):
    try:
        request = svc.SubscribeEventsRequest(after_position=0, max_events_per_message=-1)
        next(iter(stub.SubscribeEvents(request)))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "max_events_per_message" in error.details()
    else:
        raise AssertionError("expected INVALID_ARGUMENT")
