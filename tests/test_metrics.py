"""The case service's Prometheus endpoint, scraped over real HTTP from real servers: calls
counted by method and status code (refused ones too), events appended, subscribers, the log
head and the worklist projection; and the process as ops run it serves /metrics."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.config import CaseConfig, ConfigError
from casebook_case.history import CASE_EVENT_CLASSES
from casebook_common.clock import ManualClock
from tests.notify.harness import eventually, when
from tests.scrape import Scrape, scrape
from tests.security.pki import Pki, bearer
from tests.support import T0, InProcessServer, ServerProcess, history, open_case, refused, ts

CASE = "casebook.v1.CaseService"
HANDLED = "casebook_rpc_handled_total"
DURATIONS = "casebook_rpc_duration_seconds_count"


@pytest.fixture
def server(db_url: str, clock: ManualClock) -> Iterator[InProcessServer]:
    running = InProcessServer(db_url, clock, metrics_listen="127.0.0.1:0")
    try:
        yield running
    finally:
        running.close()


def metrics(server: InProcessServer) -> Scrape:
    return scrape(server.running.metrics_port)


def handled(page: Scrape, method: str) -> dict[str, float]:
    """Calls of one CaseService method by status code."""
    return {
        labels["grpc_code"]: page.value(HANDLED, **labels)
        for labels in page.labels(HANDLED)
        if labels["grpc_service"] == CASE and labels["grpc_method"] == method
    }


def promise(stub: Any, case_id: str, amount: int) -> Any:
    return stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=amount,
            due_time=ts(T0 + timedelta(days=7)),
            payment_channel=pb.ALIPAY,
        )
    )


def test_every_call_is_counted_by_method_and_status_code_and_timed(server):
    stub = server.stub
    case = open_case(stub)
    promise(stub, case.case_id, 30_000)
    refused(lambda: promise(stub, case.case_id, 0), grpc.StatusCode.INVALID_ARGUMENT)
    for _ in range(3):
        stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
    for _ in range(2):
        refused(
            lambda: stub.GetCase(svc.GetCaseRequest(case_id=str(uuid.uuid4()))),
            grpc.StatusCode.NOT_FOUND,
        )
    assert len(history(stub, case.case_id)) == 2
    refused(
        lambda: list(stub.GetCaseHistory(svc.GetCaseHistoryRequest(case_id="not-a-case-id"))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    # A body that is not a GetCase request: refused by the decoding interceptor.
    undecodable = server.channel.unary_unary(f"/{CASE}/GetCase")
    refused(lambda: undecodable(b"\xff\xff\xff", timeout=5), grpc.StatusCode.INVALID_ARGUMENT)

    expected = {
        "OpenCase": {"OK": 1},
        "RecordPromise": {"OK": 1, "INVALID_ARGUMENT": 1},
        "GetCase": {"OK": 3, "NOT_FOUND": 2, "INVALID_ARGUMENT": 1},
        "GetCaseHistory": {"OK": 1, "INVALID_ARGUMENT": 1},
    }
    # An aborted call's status reaches the client before the interceptor counts it.
    page = eventually(
        when(
            lambda: metrics(server),
            lambda page: {method: handled(page, method) for method in expected} == expected,
        )
    )
    for method in ("OpenCase", "RecordPromise", "GetCase", "GetCaseHistory"):
        timed = page.value(DURATIONS, grpc_service=CASE, grpc_method=method)
        assert timed == sum(handled(page, method).values())
        assert (
            page.value(
                "casebook_rpc_duration_seconds_bucket",
                grpc_service=CASE,
                grpc_method=method,
                le="+Inf",
            )
            == timed
        )
    assert page.value("casebook_rpc_duration_seconds_sum", grpc_service=CASE,
                      grpc_method="GetCase") > 0  # fmt: skip
    assert case.case_id not in page.text, "no case ids in metrics"


def test_events_appended_match_the_events_written_by_type(server):
    stub = server.stub
    written: Counter[str] = Counter()
    for _ in range(2):
        case = open_case(stub)
        promise(stub, case.case_id, 30_000)
        stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case.case_id,
                amount_minor=30_000,
                payment_reference=f"PAY-{uuid.uuid4().hex}",  # also claims the reference
            )
        )
        written.update(event.type for event in history(stub, case.case_id))
    request = svc.OpenCaseRequest(
        request_id="opened-once",
        account_id="ACC-once",
        debtor=pb.Debtor(name="Li Lei", time_zone="Asia/Shanghai"),
        overdue_amount_minor=100_000,
        currency="CNY",
        days_past_due=30,
    )
    stub.OpenCase(request)
    stub.OpenCase(request)  # a retry writes nothing
    written["CaseOpened"] += 1

    page = metrics(server)
    appended = {
        name: page.value("casebook_case_events_appended_total", type=name)
        for name in CASE_EVENT_CLASSES
    }
    assert {name: count for name, count in appended.items() if count} == written
    assert written["PromiseKept"] == 2
    assert len(page.labels("casebook_case_events_appended_total")) == len(CASE_EVENT_CLASSES)


def test_an_open_subscription_shows_in_the_gauges_until_it_closes(server):
    stub = server.stub
    case = open_case(stub)
    promise(stub, case.case_id, 30_000)
    assert metrics(server).value("casebook_case_subscribers") == 0

    stream = stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=0))
    received: list[Any] = []
    reader = threading.Thread(target=lambda: _read(stream, received), daemon=True)
    reader.start()
    eventually(lambda: len(received) == 2, what="the two events")
    head = server.app.head_position()
    page = eventually(
        lambda: (
            (p := metrics(server)).value("casebook_case_subscription_max_lag_events") == 0 and p
        ),
        what="the stream caught up",
    )
    assert page.value("casebook_case_subscribers") == 1
    assert page.value("casebook_case_log_head_position") == head

    stream.cancel()
    reader.join(5)

    # The stream leaves the gauge as its generator closes and is counted just after.
    def cancelled_streams(page: Any) -> float:
        return page.value(
            HANDLED, grpc_service=CASE, grpc_method="SubscribeEvents", grpc_code="CANCELLED"
        )

    page = eventually(
        lambda: cancelled_streams(p := metrics(server)) == 1 and p,
        what="the cancelled stream counted",
    )
    assert page.value("casebook_case_subscribers") == 0


def _read(stream: Any, into: list[Any]) -> None:
    try:
        for message in stream:
            into.append(message)
    except grpc.RpcError:
        pass  # cancelled by the test


def test_the_worklist_projection_position_follows_the_log(server):
    stub = server.stub
    for _ in range(3):
        open_case(stub)
    head = server.app.head_position()
    page = eventually(
        lambda: (p := metrics(server)).value("casebook_case_projection_position") == head and p,
        what="the projection at the head",
    )
    assert page.value("casebook_case_projection_lag_events") == 0
    assert page.value("casebook_case_log_head_position") == head


def test_calls_refused_by_authentication_and_authorization_are_counted(tmp_path, clock):
    pki = Pki(tmp_path)
    server = InProcessServer(
        f"sqlite:///{tmp_path}/case.db",
        clock,
        security=pki.security(mutual=False),
        credentials=pki.credentials(client_cert=False),
        metrics_listen="127.0.0.1:0",
    )
    try:
        request = svc.GetCaseRequest(case_id=str(uuid.uuid4()))
        refused(lambda: server.stub.GetCase(request), grpc.StatusCode.UNAUTHENTICATED)
        auditor = bearer(pki.token("auditor-1", "auditor"))
        refused(
            lambda: server.stub.CloseCase(
                svc.CloseCaseRequest(case_id=request.case_id), metadata=auditor
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        refused(lambda: server.stub.GetCase(request, metadata=auditor), grpc.StatusCode.NOT_FOUND)
        # An aborted call's status reaches the client before the interceptor counts it.
        page = eventually(
            when(
                lambda: metrics(server),
                lambda page: handled(page, "GetCase") == {"UNAUTHENTICATED": 1, "NOT_FOUND": 1},
            )
        )
        assert handled(page, "CloseCase") == {"PERMISSION_DENIED": 1}
        assert "auditor-1" not in page.text
    finally:
        server.close()


def test_no_metrics_endpoint_unless_configured(tmp_path, clock):
    server = InProcessServer(f"sqlite:///{tmp_path}/case.db", clock)
    try:
        assert server.running.metrics_server is None
        assert server.running.metrics_port == 0
    finally:
        server.close()


@pytest.mark.parametrize("value", ["9464", "localhost", "127.0.0.1:http", ":9464", "1.2.3.4:70000"])
def test_a_bad_metrics_address_is_refused_at_start(value):
    with pytest.raises(ConfigError, match="CASEBOOK_CASE_METRICS_LISTEN"):
        CaseConfig.from_env({"CASEBOOK_CASE_METRICS_LISTEN": value})
    config = CaseConfig.from_env({"CASEBOOK_CASE_METRICS_LISTEN": "0.0.0.0:9464"})
    assert config.metrics_listen == "0.0.0.0:9464"


def test_the_case_process_serves_metrics_on_the_port_it_logs(tmp_path):
    process = ServerProcess(
        f"sqlite:///{tmp_path}/case.db",
        tmp_path / "case.log",
        CASEBOOK_CASE_METRICS_LISTEN="127.0.0.1:0",
    ).start()
    try:
        (listening,) = [r for r in process.log_records() if r.get("event") == "listening"]
        port = int(listening["metrics_port"])
        assert port > 0
        channel, stub = process.stub()
        with channel:
            open_case(stub)
        page = scrape(port)
        assert page.value(HANDLED, grpc_service=CASE, grpc_method="OpenCase", grpc_code="OK") == 1
        assert page.value("casebook_case_events_appended_total", type="CaseOpened") == 1
        assert page.value("process_resident_memory_bytes") > 0
    finally:
        assert process.terminate() == 0
