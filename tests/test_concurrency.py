"""Many clients on one case at once: nothing lost, nothing doubled, versions contiguous."""

import threading
import uuid

import grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from tests.support import history, open_case

THREADS = 8
COMMANDS_EACH = 100


def test_eight_clients_hundred_commands_each_on_one_case_lose_nothing(server):
    case = open_case(server.stub)
    errors: list[Exception] = []
    sent: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        # Each client has its own channel, as separate systems would.
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = rpc.CaseServiceStub(channel)
            for i in range(COMMANDS_EACH):
                request_id = f"c{n}-{i}-{uuid.uuid4().hex[:6]}"
                try:
                    stub.LogContact(
                        svc.LogContactRequest(
                            case_id=case.case_id,
                            request_id=request_id,
                            channel=pb.SMS,
                            direction=pb.OUTBOUND,
                            outcome=pb.DELIVERED,
                        ),
                        timeout=60,
                    )
                except grpc.RpcError as error:
                    errors.append(error)
                    continue
                with lock:
                    sent.append(request_id)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    events = history(server.stub, case.case_id)
    assert len(events) == 1 + THREADS * COMMANDS_EACH
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert sorted(e.request_id for e in events[1:]) == sorted(sent)


def test_stale_expected_version_under_concurrency_is_aborted_not_lost(server):
    case = open_case(server.stub)
    outcomes: list[str] = []

    def client() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = rpc.CaseServiceStub(channel)
            try:
                stub.LogContact(
                    svc.LogContactRequest(
                        case_id=case.case_id,
                        expected_version=1,
                        channel=pb.SMS,
                        direction=pb.OUTBOUND,
                        outcome=pb.DELIVERED,
                    )
                )
                outcomes.append("OK")
            except grpc.RpcError as error:
                outcomes.append(error.code().name)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly one writer could have seen version 1; the others learn they were stale.
    assert sorted(outcomes) == ["ABORTED"] * 5 + ["OK"]
    assert len(history(server.stub, case.case_id)) == 2
