"""Two case-service processes on one PostgreSQL database, as ops scale it out: commands on
the same case through both replicas lose nothing and double nothing, retries through the
other replica write nothing, and both replicas stream the same log in the same order."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from tests.support import ServerProcess, details, get, history, open_case, ts

# Replicas share a database only on PostgreSQL (the db_url fixture skips or, under CI,
# fails when it is not there).
pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

THREADS_PER_REPLICA = 8
COMMANDS_PER_THREAD = 21  # 2 x 8 x 21 = 336 commands: 112 of each kind
OVERDUE = 100_000_000  # no payment total here comes near it or near a promise: one event each
PROMISE = 10_000_000


@pytest.fixture
def replicas(db_url: str, tmp_path) -> Iterator[list[ServerProcess]]:
    """Two replicas started at the same moment on one fresh database (both create the
    tables at start: that must be safe too)."""
    servers = [ServerProcess(db_url, tmp_path / f"replica-{n}.log") for n in range(2)]
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(server.start, 60) for server in servers]
        errors = [future.exception() for future in started]
    try:
        assert errors == [None, None], errors
        yield servers
    finally:
        for server in servers:
            if server.process is not None and server.process.poll() is None:
                server.kill()


@dataclass
class Sent:
    method: str
    request: Any
    result_id: str  # payment_id, promise_id ("" for a contact)
    version: int  # the case's version in the answer: the command's own event


RESULT_ID = {"RecordPayment": "payment_id", "RecordPromise": "promise_id"}


def _call(stub: rpc.CaseServiceStub, method: str, request: Any) -> tuple[str, int]:
    """(result id, the case's version in the answer)."""
    answer = getattr(stub, method)(request, timeout=60)
    if method == "LogContact":  # answers the case itself
        return "", answer.version
    return getattr(answer, RESULT_ID[method]), answer.case.version


def _command(case_id: str, request_id: str, i: int) -> tuple[str, Any]:
    """LogContact, RecordPayment and RecordPromise in turn; none of them is refused and
    each writes exactly one event (no payment total reaches a promise, so none is kept)."""
    if i % 3 == 0:
        return "LogContact", svc.LogContactRequest(
            case_id=case_id,
            request_id=request_id,
            channel=pb.EMAIL,  # no contact hours: the processes run on the real clock
            direction=pb.OUTBOUND,
            outcome=pb.DELIVERED,
        )
    if i % 3 == 1:
        return "RecordPayment", svc.RecordPaymentRequest(
            case_id=case_id,
            request_id=request_id,
            amount_minor=100 + i,
            payment_reference=f"ref-{request_id}",
        )
    return "RecordPromise", svc.RecordPromiseRequest(
        case_id=case_id,
        request_id=request_id,
        amount_minor=PROMISE,
        due_time=ts(datetime.now(UTC) + timedelta(days=30)),
        payment_channel=pb.BANK_TRANSFER,
    )


def _on_every_thread(
    replicas: list[ServerProcess], work: Callable[[rpc.CaseServiceStub, int, int], None]
) -> None:
    """Run `work(stub, replica, thread)` on THREADS_PER_REPLICA threads per replica at
    once, each with its own channel, as separate client systems would."""
    start = threading.Barrier(len(replicas) * THREADS_PER_REPLICA)
    failures: list[BaseException] = []

    def run(replica: int, thread: int) -> None:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{replicas[replica].port}") as channel:
                stub = rpc.CaseServiceStub(channel)
                start.wait(30)
                work(stub, replica, thread)
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=run, args=(r, t))
        for r in range(len(replicas))
        for t in range(THREADS_PER_REPLICA)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _write_concurrently(
    replicas: list[ServerProcess], case_ids: list[str], each: int = COMMANDS_PER_THREAD
) -> dict[str, Sent]:
    """Every thread of both replicas sends `each` commands, spread over `case_ids`."""
    sent: dict[str, Sent] = {}
    lock = threading.Lock()

    def work(stub: rpc.CaseServiceStub, replica: int, thread: int) -> None:
        for i in range(each):
            request_id = f"r{replica}-t{thread}-{i}-{uuid.uuid4().hex[:6]}"
            case_id = case_ids[(thread + i) % len(case_ids)]
            method, request = _command(case_id, request_id, i + thread)
            result_id, version = _call(stub, method, request)
            with lock:
                sent[request_id] = Sent(method, request, result_id, version)

    _on_every_thread(replicas, work)
    return sent


def test_two_replicas_writing_one_case_lose_nothing_and_double_nothing(replicas):
    a, b = (server.stub() for server in replicas)
    stubs = [a[1], b[1]]
    case = open_case(stubs[0], amount=OVERDUE)

    sent = _write_concurrently(replicas, [case.case_id])

    total = 2 * THREADS_PER_REPLICA * COMMANDS_PER_THREAD
    assert len(sent) == total
    events = history(stubs[1], case.case_id)
    # One event per command, versions 1..N without a gap, each command's event at the
    # version its answer named.
    assert len(events) == 1 + total
    assert [e.version for e in events] == list(range(1, total + 2))
    by_request = Counter(e.request_id for e in events[1:])
    assert set(by_request) == set(sent) and set(by_request.values()) == {1}
    for event in events[1:]:
        assert sent[event.request_id].version == event.version
    paid = sum(s.request.amount_minor for s in sent.values() if s.method == "RecordPayment")
    for stub in stubs:
        shown = get(stub, case.case_id)
        assert shown.version == total + 1
        assert shown.paid_minor == paid and shown.balance_minor == OVERDUE - paid
        assert len(shown.promises) == total // 3 and len(shown.payments) == total // 3

    # Every call retried through the other replica: the original answer, nothing written.
    retried: dict[str, tuple[str, int]] = {}

    def retry(request_id: str) -> None:
        original = sent[request_id]
        other = stubs[1 - int(request_id[1])]
        retried[request_id] = _call(other, original.method, original.request)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(retry, sent))
    assert retried == {r: (s.result_id, s.version) for r, s in sent.items()}
    assert len(history(stubs[0], case.case_id)) == 1 + total

    for stub in stubs:
        report = stub.VerifyCaseHistory(svc.VerifyCaseHistoryRequest(case_id=case.case_id))
        assert (report.ok, report.event_count, report.head_hash) == (
            True,
            1 + total,
            events[-1].hash,
        ), report.problem
    for channel, _ in (a, b):
        channel.close()


def test_one_payment_reference_sent_to_both_replicas_at_once_is_recorded_once(replicas):
    channels, stubs = zip(*(server.stub() for server in replicas), strict=True)
    case = open_case(stubs[0], amount=OVERDUE)
    references = [f"BANK-{uuid.uuid4().hex[:10]}" for _ in range(8)]
    answers: dict[tuple[str, int], str] = {}

    def send(reference: str, replica: int, start: threading.Barrier) -> None:
        start.wait(30)
        answer = stubs[replica].RecordPayment(
            # Different request ids (a bank file loaded twice): the reference decides.
            svc.RecordPaymentRequest(
                case_id=case.case_id,
                request_id=f"{reference}-{replica}",
                amount_minor=5_000,
                payment_reference=reference,
            ),
            timeout=60,
        )
        answers[reference, replica] = answer.payment_id

    barriers = {reference: threading.Barrier(2) for reference in references}
    with ThreadPoolExecutor(2 * len(references)) as pool:
        futures = [
            pool.submit(send, reference, replica, barriers[reference])
            for reference in references
            for replica in (0, 1)
        ]
        for future in futures:
            future.result()

    payments = [e for e in history(stubs[1], case.case_id) if e.type == "PaymentRecorded"]
    assert len(payments) == len(references)
    for reference in references:
        assert answers[reference, 0] == answers[reference, 1]
    shown = get(stubs[0], case.case_id)
    assert shown.paid_minor == 5_000 * len(references)
    assert sorted(p.payment_id for p in shown.payments) == sorted(answers[r, 0] for r in references)
    for channel in channels:
        channel.close()


def _write_at(stubs: list[rpc.CaseServiceStub], case_id: str, version: int, each: int) -> list:
    """`each` writers per replica send a contact expecting `version`, all at once."""
    outcomes: list[str] = []
    start = threading.Barrier(len(stubs) * each)

    def write(stub: rpc.CaseServiceStub) -> None:
        start.wait(30)
        try:
            stub.LogContact(
                svc.LogContactRequest(
                    case_id=case_id,
                    expected_version=version,
                    channel=pb.EMAIL,
                    direction=pb.OUTBOUND,
                    outcome=pb.DELIVERED,
                ),
                timeout=60,
            )
            outcomes.append("OK")
        except grpc.RpcError as error:
            outcomes.append(f"{error.code().name} {details(error)['ErrorInfo'].reason}")

    threads = [threading.Thread(target=write, args=(stub,)) for stub in stubs for _ in range(each)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_a_stale_expected_version_is_aborted_whichever_replica_wrote_first(replicas):
    channels, stubs = zip(*(server.stub() for server in replicas), strict=True)
    case = open_case(stubs[0])
    for _ in range(5):
        version = get(stubs[1], case.case_id).version
        # Exactly one writer could have seen that version; every other learns it was stale.
        assert _write_at(list(stubs), case.case_id, version, 3) == (
            ["ABORTED VERSION_MISMATCH"] * 5 + ["OK"]
        )
        assert get(stubs[0], case.case_id).version == version + 1
    for channel in channels:
        channel.close()


def _follow(server: ServerProcess, count: int, ready: threading.Event | None = None) -> list:
    """(position, case_id, version, hash) of the first `count` events after position 0."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stream = rpc.CaseServiceStub(channel).SubscribeEvents(
            svc.SubscribeEventsRequest(after_position=0), timeout=120
        )
        if ready is not None:
            ready.set()
        got = []
        for message in stream:
            event = message.event
            got.append((event.position, event.case_id, event.version, event.hash))
            if len(got) == count:
                stream.cancel()
                break
    return got


def test_both_replicas_stream_the_same_events_in_the_same_order_live_and_afterwards(replicas):
    channels, stubs = zip(*(server.stub() for server in replicas), strict=True)
    cases = [open_case(stubs[n % 2], amount=OVERDUE) for n in range(4)]
    # How many events the writes below make: 4 openings and one per command.
    each = 9
    expected = len(cases) + 2 * THREADS_PER_REPLICA * each
    live: dict[int, list] = {}
    following = []
    for n, server in enumerate(replicas):
        ready = threading.Event()
        thread = threading.Thread(
            target=lambda n=n, server=server, ready=ready: live.__setitem__(
                n, _follow(server, expected, ready)
            )
        )
        thread.start()
        ready.wait(10)
        following.append(thread)

    _write_concurrently(replicas, [c.case_id for c in cases], each)

    for thread in following:
        thread.join(120)
    assert sorted(live) == [0, 1], "a live follower did not receive every event"
    afterwards = [_follow(server, expected) for server in replicas]
    assert len(afterwards[0]) == expected
    assert live[0] == live[1] == afterwards[0] == afterwards[1]
    positions = [p for p, *_ in afterwards[0]]
    assert positions == sorted(set(positions))
    # The stream is the case histories interleaved in commit order.
    for case in cases:
        streamed = [(v, h) for _, c, v, h in afterwards[0] if c == case.case_id]
        stored = [(e.version, e.hash) for e in history(stubs[0], case.case_id)]
        assert streamed == stored
        report = stubs[1].VerifyCaseHistory(svc.VerifyCaseHistoryRequest(case_id=case.case_id))
        assert report.ok and report.event_count == len(stored), report.problem
    for channel in channels:
        channel.close()


def test_replicas_starting_together_on_an_empty_database_all_start(db_url):
    """Each creates the events, snapshots and access-log tables if they are missing: on
    PostgreSQL they take turns (two CREATE TABLEs racing fail even after checking first)."""
    from casebook_case.application import CaseApplication
    from tests.support import TEST_CIPHER_KEY

    start = threading.Barrier(4)

    def replica() -> CaseApplication:
        start.wait(30)
        return CaseApplication(db_url, cipher_key=TEST_CIPHER_KEY)

    with ThreadPoolExecutor(4) as pool:
        apps = list(pool.map(lambda _: replica(), range(4)))
    try:
        assert all(app.head_position() == 0 for app in apps)
    finally:
        for app in apps:
            app.close()
