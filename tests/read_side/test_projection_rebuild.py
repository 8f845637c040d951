"""The projection tables: `casebook projections rebuild` gives back exactly what the live
projector wrote, two replicas projecting into one database apply every event once, and no
personal data is ever in them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.read_side.worklists import open_case, page, projection_rows
from tests.support import TEST_CIPHER_KEY, InProcessServer, later, ts

CASEBOOK = str(Path(sys.executable).with_name("casebook"))
PERSONAL = ("Wang Fang", "+8613700137000", "wang.fang@example.cn", "Huaihai", "3101011980")


def every_kind_of_event(stub, clock) -> None:
    """A history with every event type the read side follows, and some it does not."""

    def promise(case_id: str, amount: int, days: float, **more) -> str:
        return stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                amount_minor=amount,
                due_time=ts(clock.now() + timedelta(days=days)),
                payment_channel=pb.ALIPAY,
                **more,
            )
        ).promise_id

    def pay(case_id: str, amount: int) -> None:
        stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case_id, amount_minor=amount, payment_reference=os.urandom(6).hex()
            )
        )

    def contact(case_id: str, channel=pb.PHONE, outcome=pb.NO_ANSWER, direction=pb.OUTBOUND):
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case_id, channel=channel, direction=direction, outcome=outcome
            )
        )

    kept, plan, settled, waived, held, closed, assigned = (
        open_case(stub, dpd=20 + 10 * n).case_id for n in range(7)
    )
    american = open_case(
        stub, dpd=100, profile="US_REG_F", time_zone="America/New_York", currency="USD"
    ).case_id
    contact(kept, outcome=pb.RIGHT_PARTY_VERIFIED)
    contact(kept, channel=pb.SMS, outcome=pb.DELIVERED)
    contact(kept, direction=pb.INBOUND, outcome=pb.RIGHT_PARTY_VERIFIED)
    promise(kept, 40_000, 3)
    pay(kept, 150_000)  # keeps the promise, pays off the case, overpays
    stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=plan,
            amount_minor=30_000,
            payment_channel=pb.WECHAT_PAY,
            instalments=[
                pb.Instalment(amount_minor=10_000, due_time=ts(later(days=2))),
                pb.Instalment(amount_minor=20_000, due_time=ts(later(days=9))),
            ],
        )
    )
    pay(plan, 10_000)
    stub.ProposeArrangement(
        svc.ProposeArrangementRequest(
            case_id=settled,
            kind=pb.SETTLEMENT,
            settlement_amount_minor=60_000,
            settlement_due_time=ts(later(days=5)),
        )
    )
    pay(settled, 60_000)  # the settlement is kept: the rest is waived
    stub.ProposeArrangement(
        svc.ProposeArrangementRequest(case_id=waived, kind=pb.WAIVER, waiver_minor=5_000)
    )
    dispute = stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=held, reason="not mine"))
    stub.ResolveDispute(
        svc.ResolveDisputeRequest(
            case_id=held, dispute_id=dispute.dispute_id, resolution="it was theirs"
        )
    )
    stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=held, reason="charged twice"))
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=held, channel=pb.SMS))
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=held, channel=pb.EMAIL))
    hold = stub.PlaceHold(svc.PlaceHoldRequest(case_id=held, kind=pb.HARDSHIP, reason="job"))
    stub.ReleaseHold(svc.ReleaseHoldRequest(case_id=held, hold_id=hold.hold_id))
    stub.PlaceHold(
        svc.PlaceHoldRequest(
            case_id=held, kind=pb.COMPLAINT, until=ts(later(days=3)), reason="complaint"
        )
    )
    promise(closed, 10_000, 4)
    stub.Escalate(svc.EscalateRequest(case_id=closed, to_stage=pb.AGENCY, reason="agency"))
    stub.CloseCase(svc.CloseCaseRequest(case_id=closed, reason=pb.WRITTEN_OFF))  # cancels it
    stub.AssignCase(svc.AssignCaseRequest(case_id=assigned, assignee="agent:7", note="new"))
    stub.IssueLetter(svc.IssueLetterRequest(case_id=assigned, letter_type=pb.REMINDER))
    broken = promise(assigned, 10_000, 1)
    first = promise(american, 5_000, 2)
    promise(american, 6_000, 3, replaces_promise_id=first)
    clock.advance(timedelta(days=1, hours=13))  # 23:00 in Shanghai: a refused call
    stub.MarkPromiseBroken(svc.MarkPromiseBrokenRequest(case_id=assigned, promise_id=broken))
    with pytest.raises(grpc.RpcError):  # refused, and recorded as ContactRefused
        contact(assigned)
    contact(american, channel=pb.EMAIL, outcome=pb.DELIVERED)


def casebook(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOOK_")}
    env["CASEBOOK_CIPHER_KEY"] = TEST_CIPHER_KEY
    return subprocess.run([CASEBOOK, *args], env=env, capture_output=True, text=True, timeout=120)


def caught_up(server: InProcessServer) -> None:
    page(server, page_size=1)  # answered once the projection has reached the head


def test_rebuild_gives_back_exactly_what_the_live_projector_wrote(db_url, clock):
    server = InProcessServer(db_url, clock)
    try:
        every_kind_of_event(server.stub, clock)
        caught_up(server)
        live = projection_rows(db_url)
        assert {name: len(rows) for name, rows in live.items()} == {
            "casebook_proj_cases": 8,
            "casebook_proj_promises": 7,
            "casebook_proj_payments": 3,
            "casebook_proj_contacts": 4,
            "casebook_proj_holds": 2,
            "casebook_proj_position": 1,
        }

        # Damage the tables, then rebuild while the server (and its projector) runs on.
        engine = create_engine(db_url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE casebook_proj_cases SET assignee = 'tampered'"))
            connection.execute(text("DELETE FROM casebook_proj_contacts"))
        engine.dispose()
        assert projection_rows(db_url) != live
        result = casebook("projections", "rebuild", "--db", db_url)
        assert result.returncode == 0, result.stderr
        assert "replaying [" in result.stderr and "100%" in result.stderr
        assert "projections rebuilt up to log position" in result.stdout
        caught_up(server)
        assert projection_rows(db_url) == live
    finally:
        server.close()

    # And once more with nothing else running.
    result = casebook("projections", "rebuild", "--db", db_url)
    assert result.returncode == 0, result.stderr
    assert projection_rows(db_url) == live


def test_the_projection_tables_hold_no_personal_data(db_url, server, clock):
    every_kind_of_event(server.stub, clock)
    caught_up(server)
    dumped = repr(projection_rows(db_url))
    assert "agent:7" in dumped  # the dump is real
    for value in PERSONAL:
        assert value not in dumped
    accounts = {c.account_id for c in page(server, page_size=500).cases}
    assert accounts and not any(account in dumped for account in accounts)


def test_two_replicas_project_into_one_database_and_apply_each_event_once(db_url, clock):
    """Both servers run a projector on the same tables: each batch is applied by one of
    them (a second application would add contacts twice or count disputes twice)."""
    replicas = [InProcessServer(db_url, clock), InProcessServer(db_url, clock)]
    try:
        for n in range(30):
            stub = replicas[n % 2].stub
            case = open_case(stub, dpd=n)
            stub.LogContact(
                svc.LogContactRequest(
                    case_id=case.case_id,
                    channel=pb.PHONE,
                    direction=pb.OUTBOUND,
                    outcome=pb.RIGHT_PARTY_VERIFIED,
                )
            )
            stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case.case_id, reason="why"))
        for replica in replicas:
            caught_up(replica)
        head = replicas[0].app.head_position()
        both = projection_rows(db_url)
    finally:
        for replica in replicas:
            replica.close()
    assert len(both["casebook_proj_contacts"]) == 30
    assert both["casebook_proj_position"] == [("cases", head)]
    result = casebook("projections", "rebuild", "--db", db_url)
    assert result.returncode == 0, result.stderr
    assert projection_rows(db_url) == both
