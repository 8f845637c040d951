"""Figure 3: GetCase on a 10,000-event case against a 10-event case, over gRPC on the case
service as a process (snapshots every 100 events; cases cached and brought up to date)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import grpc

from bench.commands import open_cases
from bench.report import figure, latency_ms, scaled, section
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.application import CaseApplication
from casebook_case.commands import AssignCase, LogContact
from casebook_case.domain.case import CommandMeta
from tests.support import TEST_CIPHER_KEY, ServerProcess

READER = (("x-casebook-actor", "bench:reader"),)


def grow_case(app: CaseApplication, case_id: str, events: int) -> None:
    """Up to 1,000 contacts logged on one case, then reassignments to `events` events, 500 per
    transaction (what the commands write, faster). Not contacts all the way: each contact
    checks the conduct rules against every contact before it, so 10,000 would take minutes
    to write (RESULTS.md)."""
    contact = LogContact(
        case_id=case_id, channel="EMAIL", direction="INBOUND", outcome="RIGHT_PARTY_VERIFIED"
    )
    assignments = [AssignCase(case_id=case_id, assignee=f"agent:{k}") for k in (1, 2)]
    case = app.repository.get(UUID(case_id))
    while case.version < events:
        for _ in range(min(500, events - case.version)):
            command = contact if case.version < 1_000 else assignments[case.version % 2]
            meta = CommandMeta("bench", datetime.now(UTC), "", command.fingerprint())
            command.run(case, meta, app.policy)
        app.save(case)


def run(folder: Path) -> None:
    name = "3 long cases"
    long_events = scaled(10_000, least=200)
    db_url = f"sqlite:///{folder}/long.db"
    app = CaseApplication(db_url, cipher_key=TEST_CIPHER_KEY)
    short, long = open_cases(app, 2)
    grow_case(app, short, 10)
    grow_case(app, long, long_events)
    app.close()
    server = ServerProcess(db_url, folder / "case-long.log").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        stub = rpc.CaseServiceStub(channel)
        section(f"3. Long cases: GetCase median latency, {long_events:,} vs 10 events")

        def read(case_id: str) -> None:
            stub.GetCase(svc.GetCaseRequest(case_id=case_id), metadata=READER)

        short_ms = latency_ms(lambda: read(short), 300)
        long_ms = latency_ms(lambda: read(long), 300)
        figure(name, "GetCase, 10-event case", short_ms, "ms")
        figure(name, f"GetCase, {long_events:,}-event case", long_ms, "ms", short_ms, "<= 2")
    finally:
        channel.close()
        server.terminate()
