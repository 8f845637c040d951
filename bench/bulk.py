"""Figure 2: one ImportPayments stream of 100,000 payments against the rate of single
RecordPayment calls from 16 concurrent clients, on the same server and store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import grpc

from bench.report import figure, rate, scaled, section
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc

CLIENTS = 16
PAYMENT_FILE = (("x-casebook-actor", "bench:payment-file"),)


def run(port: int, cases: list[str]) -> int:
    """Returns how many payments the import recorded."""
    name = "2 bulk import"
    calls = scaled(1_600, least=CLIENTS)
    payments = scaled(100_000)
    run_id = uuid.uuid4().hex[:8]
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(CLIENTS)]
    stubs = [rpc.CaseServiceStub(c) for c in channels]
    section(f"2. Bulk: ImportPayments of {payments:,} payments vs single RecordPayment calls")
    try:
        single = rate(
            lambda c, i: stubs[c].RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=cases[(c * 7919 + i) % len(cases)],
                    amount_minor=100,
                    payment_reference=f"SINGLE-{run_id}-{c}-{i}",
                ),
                metadata=PAYMENT_FILE,
            ),
            calls,
            CLIENTS,
        )

        one_client = rate(
            lambda c, i: stubs[0].RecordPayment(
                svc.RecordPaymentRequest(
                    case_id=cases[i % len(cases)],
                    amount_minor=100,
                    payment_reference=f"ONE-{run_id}-{i}",
                ),
                metadata=PAYMENT_FILE,
            ),
            calls // 2,
            1,
        )

        def payment_file() -> Iterator[svc.ImportPaymentsRequest]:
            for i in range(payments):
                yield svc.ImportPaymentsRequest(
                    case_id=cases[i % len(cases)],
                    amount_minor=100,
                    currency="CNY",
                    payment_reference=f"FILE-{run_id}-{i}",
                )

        started = time.perf_counter()
        response = stubs[0].ImportPayments(payment_file(), metadata=PAYMENT_FILE)
        imported = payments / (time.perf_counter() - started)
        assert (response.recorded, response.failed) == (payments, 0), response
        figure(name, f"RecordPayment, {CLIENTS} concurrent clients", single, "/s")
        figure(name, "ImportPayments, one stream", imported, "/s", single, ">= 5")
        figure(name, "RecordPayment, one client, a call at a time", one_client, "/s")
        figure(name, "ImportPayments against one client's calls", imported, "/s", one_client)
        return response.recorded
    finally:
        for channel in channels:
            channel.close()
