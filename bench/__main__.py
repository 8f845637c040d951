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


def _notify_tick(folder: Path) -> None:
    """Tick cost must follow the number due, not the number pending."""
    import asyncio
    import uuid
    from datetime import timedelta

    from sqlalchemy import insert

    from casebook_case.commands import RecordPromise
    from casebook_common.clock import ManualClock
    from casebook_notify.config import NotifyConfig
    from casebook_notify.scheduler import Scheduler
    from casebook_notify.store import NotifyStore, deadlines
    from tests.support import T0

    clock = ManualClock(T0)
    server = InProcessServer(f"sqlite:///{folder}/tick-case.db", clock)
    try:
        results = {}
        for pending in (1_000, 100_000):
            store = NotifyStore(f"sqlite:///{folder}/tick-{pending}.db")
            config = NotifyConfig(
                case_address=f"127.0.0.1:{server.port}",
                reminder_offsets=(),
                retry_base=timedelta(hours=1),
            )
            due_at = clock.now() + timedelta(hours=1)
            due_rows = []
            for _ in range(1_000):
                case_id = open_case(server.stub).case_id
                promise_id = server.app.execute(
                    RecordPromise(
                        case_id=case_id,
                        amount_minor=1_000,
                        due_time=due_at,
                        payment_channel="ALIPAY",
                    ),
                    "bench",
                ).result_id
                due_rows.append(
                    dict(
                        deadline_id=f"{promise_id}:0",
                        case_id=case_id,
                        promise_id=promise_id,
                        due_time=due_at,
                        fire_at=due_at,
                        state="PENDING",
                        outcome="",
                        attempts=0,
                    )
                )
            later = clock.now() + timedelta(days=30)
            idle = [
                dict(
                    deadline_id=f"{uuid.uuid4()}:0",
                    case_id=str(uuid.uuid4()),
                    promise_id=str(uuid.uuid4()),
                    due_time=later,
                    fire_at=later,
                    state="PENDING",
                    outcome="",
                    attempts=0,
                )
                for _ in range(pending - 1_000)
            ]
            with store.transaction() as connection:
                connection.execute(insert(deadlines), due_rows + idle)
            clock.set(due_at + timedelta(seconds=1))
            scheduler = Scheduler(store, config, clock)

            async def tick(s: Scheduler = scheduler) -> tuple[float, float, int]:
                started = time.perf_counter()
                await asyncio.to_thread(s._due_deadlines, clock.now())
                query = time.perf_counter() - started
                report = await s.tick()
                await s.close()
                return query, report.seconds, report.deadlines

            query, whole, fired = asyncio.run(tick())
            results[pending] = (query * 1000, whole * 1000, fired)
            store.close()
            clock.set(T0)
        print("Notify tick firing 1,000 due deadlines (each a MarkPromiseBroken call)")
        (q1, t1, f1), (q2, t2, f2) = results[1_000], results[100_000]
        _figure("due query, 1,000 pending", q1, "ms", None, "")
        _figure("due query, 100,000 pending", q2, "ms", q1, "target <= 1.5")
        _figure("whole tick, 1,000 pending", t1, "ms", None, "")
        _figure("whole tick, 100,000 pending", t2, "ms", t1, "target <= 1.5")
        assert f1 == f2 == 1_000, (f1, f2)
    finally:
        server.close()


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
            print()
        finally:
            server.close()
        _notify_tick(Path(folder))


if __name__ == "__main__":
    main()
