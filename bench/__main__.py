"""`make bench`: figures measured side by side in one run, printed as ratios to a baseline.

Not tests: machines here are noisy, so only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.commands import LogContact
from casebook_common.clock import SystemClock
from casebook_common.logging import configure_logging
from tests.support import InProcessServer, open_case

CLIENTS = 16


def _latency_ms(call: Callable[[], object], repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _rate(work: Callable[[int], None], total: int, threads: int = CLIENTS) -> float:
    per_thread = total // threads
    started = time.perf_counter()
    pool = [
        threading.Thread(target=lambda: [work(i) for i in range(per_thread)])
        for _ in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return per_thread * threads / (time.perf_counter() - started)


def _figure(label: str, value: float, unit: str, baseline: float | None, target: str) -> None:
    ratio = "(baseline)" if baseline is None else f"ratio {value / baseline:.2f}  ({target})"
    print(f"  {label:<28}{value:10.2f} {unit:<4} {ratio}")


def _contact_request(case_id: str) -> svc.LogContactRequest:
    return svc.LogContactRequest(
        case_id=case_id, channel=pb.EMAIL, direction=pb.OUTBOUND, outcome=pb.DELIVERED
    )


def main() -> None:
    configure_logging("bench", fmt="console", level="WARNING")
    with tempfile.TemporaryDirectory() as folder:
        server = InProcessServer(f"sqlite:///{Path(folder)}/bench.db", SystemClock())  # type: ignore[arg-type]
        try:
            stub = server.stub
            print("casebook benchmarks (SQLite, one process; ratios are what count)\n")

            short = open_case(stub)
            for _ in range(9):
                stub.LogContact(_contact_request(short.case_id))
            long = open_case(stub)
            command = LogContact(
                case_id=long.case_id, channel="EMAIL", direction="OUTBOUND", outcome="DELIVERED"
            )
            for _ in range(9_999):
                server.app.execute(command, "bench")
            short_ms = _latency_ms(lambda: stub.GetCase(svc.GetCaseRequest(case_id=short.case_id)))
            long_ms = _latency_ms(lambda: stub.GetCase(svc.GetCaseRequest(case_id=long.case_id)))
            print("GetCase latency, median (snapshots every 100 events)")
            _figure("10-event case", short_ms, "ms", None, "")
            _figure("10,000-event case", long_ms, "ms", short_ms, "target <= 2")
            print()

            cases = [open_case(stub).case_id for _ in range(200)]
            in_process = _rate(
                lambda i: server.app.execute(
                    LogContact(
                        case_id=cases[i % len(cases)],
                        channel="EMAIL",
                        direction="OUTBOUND",
                        outcome="DELIVERED",
                    ),
                    "bench",
                ),
                4_000,
            )
            channels = [grpc.insecure_channel(f"127.0.0.1:{server.port}") for _ in range(4)]
            stubs = [rpc.CaseServiceStub(c) for c in channels]
            health = [health_pb2_grpc.HealthStub(c) for c in channels]
            over_grpc = _rate(
                lambda i: stubs[i % 4].LogContact(_contact_request(cases[i % len(cases)])), 4_000
            )
            empty = _rate(lambda i: health[i % 4].Check(health_pb2.HealthCheckRequest()), 8_000)
            for channel in channels:
                channel.close()
            print(f"LogContact throughput, {CLIENTS} concurrent clients, 200 cases")
            _figure("in-process application", in_process, "/s", None, "")
            _figure("over gRPC", over_grpc, "/s", in_process, "target >= 0.5")
            _figure("empty unary RPC (health)", empty, "/s", in_process, "ceiling of this server")
        finally:
            server.close()


if __name__ == "__main__":
    main()
