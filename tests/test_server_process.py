"""The case service as ops run it: a process with health, reflection, logs, SIGTERM and SIGKILL."""

import json
import threading
import time
import uuid
from collections import defaultdict

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import ServerProcess, history, open_case


@pytest.fixture
def process(db_url, tmp_path):
    server = ServerProcess(db_url, tmp_path / "case.log").start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


def test_health_and_reflection_are_served(process):
    channel, _ = process.stub()
    with channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "casebook.v1.CaseService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        (response,) = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for s in response.list_services_response.service}
        assert {"casebook.v1.CaseService", "grpc.health.v1.Health"} <= names


def test_one_log_line_per_call_with_ids_and_no_personal_data(process):
    channel, stub = process.stub()
    with channel:
        case = open_case(stub, request_id="open-log-test")
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id,
                request_id="req-42",
                channel=pb.PHONE,
                direction=pb.INBOUND,  # allowed at any hour: this test runs on the real clock
                outcome=pb.RIGHT_PARTY_VERIFIED,
                note="debtor Li Lei asked us to call +8613800138000",
            )
        )
        with pytest.raises(grpc.RpcError):
            stub.GetCase(svc.GetCaseRequest(case_id=str(uuid.uuid4())))
    time.sleep(0.2)
    calls = [r for r in process.log_records() if r.get("event") == "rpc"]
    assert [(c["method"], c["status"]) for c in calls] == [
        ("OpenCase", "OK"),
        ("LogContact", "OK"),
        ("GetCase", "NOT_FOUND"),
    ]
    assert calls[1]["request_id"] == "req-42" and calls[1]["case_id"] == case.case_id
    assert calls[0]["case_id"] == case.case_id
    assert all(isinstance(c["duration_ms"], float | int) for c in calls)
    text = process.log_path.read_text()
    for secret in (
        "Li Lei",
        "+8613800138000",
        "8613800138000",
        "110101199003070000",
        "li.lei@example.cn",
        "Chang'an",
    ):
        assert secret not in text


def test_sigterm_lets_calls_in_flight_finish_then_exits(process):
    channel, stub = process.stub()
    case = open_case(stub)
    results: dict[str, str] = {}

    def client(n):
        with grpc.insecure_channel(f"127.0.0.1:{process.port}") as own:
            from casebook.v1 import case_service_pb2_grpc as rpc

            own_stub = rpc.CaseServiceStub(own)
            for i in range(200):
                request_id = f"t{n}-{i}"
                try:
                    own_stub.LogContact(
                        svc.LogContactRequest(
                            case_id=case.case_id,
                            request_id=request_id,
                            channel=pb.EMAIL,  # no contact hours: this runs on the real clock
                            direction=pb.OUTBOUND,
                            outcome=pb.DELIVERED,
                        ),
                        timeout=10,
                    )
                    results[request_id] = "OK"
                except grpc.RpcError as error:
                    results[request_id] = error.code().name
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    code = process.terminate()
    for thread in threads:
        thread.join()
    channel.close()
    assert code == 0, process.log_path.read_text()[-4000:]  # a hung stop dumps its stacks
    assert "OK" in results.values()
    assert set(results.values()) <= {"OK", "UNAVAILABLE", "CANCELLED"}
    records = process.log_records()
    assert records[-1]["event"] == "stopped"
    # Everything answered OK is durably in the history.
    process.start()
    channel, stub = process.stub()
    with channel:
        stored = {e.request_id for e in history(stub, case.case_id)}
    assert {r for r, status in results.items() if status == "OK"} <= stored


def _groups(events):
    by_request = defaultdict(list)
    for event in events:
        if event.request_id:
            by_request[event.request_id].append(event)
    return by_request


def test_sigkill_mid_load_loses_no_acknowledged_command_and_leaves_nothing_half_written(process):
    channel, stub = process.stub()
    cases = [open_case(stub, amount=10_000_000) for _ in range(4)]
    channel.close()
    acknowledged: set[str] = set()
    unanswered: list[tuple[str, svc.ProposeArrangementRequest | svc.RecordPaymentRequest]] = []
    stop = threading.Event()

    def client(n):
        with grpc.insecure_channel(f"127.0.0.1:{process.port}") as own:
            from casebook.v1 import case_service_pb2_grpc as rpc

            own_stub = rpc.CaseServiceStub(own)
            i = 0
            while not stop.is_set():
                case_id = cases[(n + i) % len(cases)].case_id
                request_id = f"k{n}-{i}"
                if i % 2:
                    method = "ProposeArrangement"
                    # A small waiver is approved at once: three events in one transaction.
                    request = svc.ProposeArrangementRequest(
                        case_id=case_id, request_id=request_id, kind=pb.WAIVER, waiver_minor=1
                    )
                else:
                    method = "RecordPayment"
                    request = svc.RecordPaymentRequest(
                        case_id=case_id,
                        request_id=request_id,
                        amount_minor=1,
                        payment_reference=f"ref-{request_id}",
                    )
                try:
                    getattr(own_stub, method)(request, timeout=5)
                    acknowledged.add(request_id)
                except grpc.RpcError:
                    unanswered.append((method, request))
                    if process.process.poll() is not None:
                        return
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    process.kill()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) > 20

    process.start()
    channel, stub = process.stub()
    with channel:
        events = [e for case in cases for e in history(stub, case.case_id)]
        groups = _groups(events)
        assert acknowledged <= set(groups)
        _assert_whole(groups, cases, stub)
        # Retrying what got no answer completes it exactly once.
        for method, request in unanswered:
            getattr(stub, method)(request, timeout=10)
        events = [e for case in cases for e in history(stub, case.case_id)]
        groups = _groups(events)
        assert {r.request_id for _, r in unanswered} <= set(groups)
        _assert_whole(groups, cases, stub)


def _assert_whole(groups, cases, stub):
    for request_id, group in groups.items():
        types = [e.type for e in group]
        if request_id.startswith("k") and int(request_id.split("-")[1]) % 2:
            assert types == ["ArrangementProposed", "ArrangementApproved", "BalanceWaived"]
        elif request_id.startswith("k"):
            assert types == ["PaymentRecorded"]
        versions = [e.version for e in group]
        assert versions == list(range(versions[0], versions[0] + len(versions)))
    for case in cases:
        shown = stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
        assert [e.version for e in history(stub, case.case_id)] == list(range(1, shown.version + 1))
        assert shown.balance_minor == 10_000_000 - shown.paid_minor - shown.waived_minor
        waivers = sum(
            json.loads(e.payload_json)["amount_minor"]
            for e in history(stub, case.case_id)
            if e.type == "BalanceWaived"
        )
        assert waivers == shown.waived_minor


def test_bad_configuration_is_refused_at_start(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, CASEBOOK_CASE_DB_URL="mysql://nope", CASEBOOK_CASE_LISTEN="127.0.0.1:0")
    result = subprocess.run(
        [sys.executable, "-m", "casebook_case.server"], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 2
    assert b"CASEBOOK_CASE_DB_URL" in result.stderr
    assert b"Traceback" not in result.stderr
