"""Figure 1: LogContact and RecordPayment over gRPC from 16 clients on 1,000 cases, against the
same commands through CaseApplication in this process on the same store, and against an empty
unary RPC (health Check) on the same server."""

from __future__ import annotations

import contextlib
import statistics
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.report import figure, rate, scaled, section
from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.application import CaseApplication
from casebook_case.commands import LogContact, OpenCase, RecordPayment
from tests.support import TEST_CIPHER_KEY, ServerProcess, fresh_postgres_database

CLIENTS = 16
CASES = 1_000
# In-process and over gRPC take turns, and each figure is the median of its rounds: load
# that comes and goes on a shared machine then weighs on both sides alike.
ROUNDS = 3
BENCH_ACTOR = (("x-casebook-actor", "bench"),)


def open_cases(app: CaseApplication, count: int, amount: int = 10**12) -> list[str]:
    """Cases opened in this process (setup, not measured); large balances take any payment."""
    return [
        str(
            app.open_case(
                OpenCase(
                    case_id="",
                    request_id=uuid.uuid4().hex,
                    account_id=f"ACC-{i}",
                    debtor={"name": "Bench Debtor", "time_zone": "Asia/Shanghai"},
                    overdue_amount_minor=amount,
                    currency="CNY",
                    days_past_due=30,
                ),
                "bench",
            ).case.id
        )
        for i in range(count)
    ]


@contextlib.contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    if kind == "SQLite":
        yield f"sqlite:///{folder}/commands.db"
    else:
        with fresh_postgres_database() as url:
            yield url


def run(folder: Path) -> None:
    for kind in ("SQLite", "PostgreSQL"):
        with store(kind, folder) as db_url:
            _measure(kind, db_url, folder)


def _measure(kind: str, db_url: str, folder: Path) -> None:
    name = f"1 commands {kind}"
    calls = scaled(600, least=CLIENTS)  # a round; ROUNDS rounds of each
    app = CaseApplication(db_url, cipher_key=TEST_CIPHER_KEY)
    server = ServerProcess(db_url, folder / f"case-{kind}.log").start()
    channels = [grpc.insecure_channel(f"127.0.0.1:{server.port}") for _ in range(CLIENTS)]
    try:
        cases = open_cases(app, scaled(CASES, least=CLIENTS))
        stubs = [rpc.CaseServiceStub(c) for c in channels]
        health = [health_pb2_grpc.HealthStub(c) for c in channels]
        run_id = uuid.uuid4().hex[:8]

        def case_of(client: int, i: int) -> str:
            return cases[(client * 7919 + i) % len(cases)]

        section(
            f"1. Commands, {CLIENTS} concurrent clients on {len(cases):,} cases, {kind} "
            f"({ROUNDS} rounds of {calls:,} calls each way, medians)"
        )

        def contact_in_process(c: int, i: int, round_: int) -> None:
            app.execute(
                LogContact(
                    case_id=case_of(c, i),
                    channel="EMAIL",
                    direction="OUTBOUND",
                    outcome="DELIVERED",
                ),
                "bench",
            )

        def contact_over_grpc(c: int, i: int, round_: int) -> None:
            stubs[c].LogContact(
                svc.LogContactRequest(
                    case_id=case_of(c, i),
                    channel=pb.EMAIL,
                    direction=pb.OUTBOUND,
                    outcome=pb.DELIVERED,
                ),
                metadata=BENCH_ACTOR,
            )

        def payment_in_process(c: int, i: int, round_: int) -> None:
            app.execute(
                RecordPayment(
                    case_id=case_of(c, i),
                    amount_minor=100,
                    payment_reference=f"IN-{run_id}-{round_}-{c}-{i}",
                ),
                "bench",
            )

        def payment_over_grpc(c: int, i: int, round_: int) -> None:
            stubs[c].RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=case_of(c, i),
                    amount_minor=100,
                    payment_reference=f"RPC-{run_id}-{round_}-{c}-{i}",
                ),
                metadata=BENCH_ACTOR,
            )

        in_process_contacts, grpc_contacts = _alternating(
            contact_in_process, contact_over_grpc, calls
        )
        in_process_payments, grpc_payments = _alternating(
            payment_in_process, payment_over_grpc, calls
        )
        empty = rate(
            lambda c, i: health[c].Check(health_pb2.HealthCheckRequest()), calls * 4, CLIENTS
        )
        figure(name, "LogContact in-process (CaseApplication)", in_process_contacts, "/s")
        figure(name, "LogContact over gRPC", grpc_contacts, "/s", in_process_contacts, ">= 0.5")
        figure(name, "RecordPayment in-process (CaseApplication)", in_process_payments, "/s")
        figure(name, "RecordPayment over gRPC", grpc_payments, "/s", in_process_payments, ">= 0.5")
        figure(name, "empty unary RPC (health Check), same server", empty, "/s")
        figure(name, "LogContact over gRPC / empty RPC", grpc_contacts, "/s", empty)
    finally:
        for channel in channels:
            channel.close()
        server.terminate()
        app.close()


Work = Callable[[int, int, int], None]  # work(client, call, round)


def _alternating(in_process: Work, over_grpc: Work, calls: int) -> tuple[float, float]:
    """Median rates of ROUNDS rounds, in-process then over gRPC in each."""
    rates: tuple[list[float], list[float]] = ([], [])
    for round_ in range(ROUNDS):
        for side, work in zip(rates, (in_process, over_grpc), strict=True):
            side.append(rate(lambda c, i, w=work, r=round_: w(c, i, r), calls, CLIENTS))
    return statistics.median(rates[0]), statistics.median(rates[1])
