"""GetPortfolioStats and `casebook report` on a small portfolio whose figures are worked
out by hand below.

T0 is Monday 10:00 in Shanghai (21:00 on Sunday in New York); the period is the week from T0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.read_side.worklists import bad_request, open_case
from tests.support import T0, TEST_CIPHER_KEY, later, ts

CASEBOOK = str(Path(sys.executable).with_name("casebook"))
WEEK = (T0, later(days=7))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Portfolio:
    position: int


@pytest.fixture
def portfolio(server, clock) -> Portfolio:
    stub = server.stub

    def promise(case_id: str, amount: int, days: float, **more) -> str:
        return stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                amount_minor=amount,
                due_time=ts(later(days=days)),
                payment_channel=pb.BANK_TRANSFER,
                **more,
            )
        ).promise_id

    def pay(case_id: str, amount: int, reference: str, received_at: datetime = T0) -> None:
        stub.RecordPayment(
            svc.RecordPaymentRequest(
                case_id=case_id,
                amount_minor=amount,
                payment_reference=reference,
                received_at=ts(received_at),
            )
        )

    def contact(case_id: str, channel, outcome, direction=pb.OUTBOUND, at=None) -> None:
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case_id,
                channel=channel,
                direction=direction,
                outcome=outcome,
                occurred_at=ts(at) if at else None,
            )
        )

    a = open_case(stub, dpd=10).case_id
    b = open_case(stub, dpd=65).case_id
    c = open_case(
        stub, dpd=95, profile="US_REG_F", time_zone="America/New_York", currency="USD"
    ).case_id
    d, e, f = (open_case(stub, dpd=30).case_id for _ in range(3))

    promise(a, 10_000, 2)
    pay(a, 10_000, "A-1")  # kept, collected in the week
    broken = promise(b, 5_000, 1)
    promise(c, 3_000, 3)  # USD, still open at the end
    promise(d, 7_000, 10)  # recorded in the week, due after it
    pay(d, 1_000, "D-1", received_at=later(days=-1))  # received before the week
    first = promise(e, 2_000, 4)
    promise(e, 2_500, 5, replaces_promise_id=first)  # the first is superseded
    stub.CloseCase(svc.CloseCaseRequest(case_id=f, reason=pb.OPENED_IN_ERROR))

    contact(a, pb.PHONE, pb.NO_ANSWER, at=later(hours=-1))  # before the week
    contact(a, pb.PHONE, pb.RIGHT_PARTY_VERIFIED)
    contact(b, pb.PHONE, pb.NO_ANSWER)
    contact(b, pb.PHONE, pb.REFUSED)  # the debtor, who refused: a right-party contact
    contact(c, pb.EMAIL, pb.DELIVERED)
    contact(d, pb.PHONE, pb.RIGHT_PARTY_VERIFIED, direction=pb.INBOUND)

    clock.advance(timedelta(days=1, minutes=1))
    stub.MarkPromiseBroken(svc.MarkPromiseBrokenRequest(case_id=b, promise_id=broken))
    return Portfolio(position=server.app.head_position())


def stats(server, start: datetime, end: datetime) -> svc.GetPortfolioStatsResponse:
    # The figures come from the projection: ask a worklist to catch up first.
    server.stub.ListCases(
        svc.ListCasesRequest(page_size=1, min_position=server.app.head_position())
    )
    return server.stub.GetPortfolioStats(
        svc.GetPortfolioStatsRequest(start_time=ts(start), end_time=ts(end))
    )


def test_the_weeks_figures_are_the_ones_worked_out_by_hand(server, portfolio):
    found = stats(server, *WEEK)
    # Now (Tuesday 10:01 in Shanghai, Monday 21:01 in New York): A 11, B 66, C 96, D E 31.
    assert dict(found.cases_per_stage) == {
        "EARLY": 3,
        "MID": 1,
        "LATE": 1,
        "AGENCY": 0,
        "LEGAL": 0,
        "CLOSED": 1,
    }
    # Due in the week: A kept, B broken, C open, E's first superseded, E's second open
    # (D's is due after the week).
    promises = found.promises
    assert (
        promises.fell_due,
        promises.kept,
        promises.broken,
        promises.open,
        promises.withdrawn,
    ) == (5, 1, 1, 2, 1)
    assert promises.kept_rate == pytest.approx(0.5)
    assert promises.broken_rate == pytest.approx(0.5)
    # Recorded in the week: CNY 10,000 + 5,000 + 7,000 + 2,000 + 2,500; USD 3,000.
    # Received in the week: A's 10,000 (D's 1,000 came the day before).
    amounts = {
        a.currency: (a.promises_recorded, a.promised_minor, a.payments_received, a.collected_minor)
        for a in found.amounts
    }
    assert amounts == {"CNY": (5, 26_500, 1, 10_000), "USD": (1, 3_000, 0, 0)}
    # Outbound phone: A reached, B unanswered, B reached (refused); D called in.
    contacts = {
        pb.Channel.Name(c.channel): (c.attempts, c.right_party_contacts, c.inbound)
        for c in found.contacts
    }
    assert contacts == {"PHONE": (3, 2, 1), "EMAIL": (1, 0, 0)}
    rates = {pb.Channel.Name(c.channel): c.right_party_rate for c in found.contacts}
    assert rates == {"PHONE": pytest.approx(2 / 3), "EMAIL": 0.0}
    assert found.position >= portfolio.position
    assert (found.start_time, found.end_time) == (ts(WEEK[0]), ts(WEEK[1]))


def test_the_day_before_holds_only_what_happened_that_day(server, portfolio):
    found = stats(server, later(days=-1), T0)
    assert found.promises.fell_due == 0
    assert [(a.currency, a.payments_received, a.collected_minor) for a in found.amounts] == [
        ("CNY", 1, 1_000)
    ]
    assert [
        (pb.Channel.Name(c.channel), c.attempts, c.right_party_contacts) for c in found.contacts
    ] == [("PHONE", 1, 0)]


@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [
        (None, T0, {"start_time"}),
        (T0, None, {"end_time"}),
        (None, None, {"start_time", "end_time"}),
        (T0, T0, {"end_time"}),
        (later(days=1), T0, {"end_time"}),
    ],
)
def test_a_period_must_have_both_ends_in_order(server, start, end, fields):
    request = svc.GetPortfolioStatsRequest(
        start_time=ts(start) if start else None, end_time=ts(end) if end else None
    )
    assert set(bad_request(lambda: server.stub.GetPortfolioStats(request))) == fields


def test_casebook_report_prints_the_figures_and_draws_a_png(
    server, portfolio, db_url, tmp_path, clock
):
    chart = tmp_path / "week.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOOK_")}
    env["CASEBOOK_CIPHER_KEY"] = TEST_CIPHER_KEY
    # The command's "now" (for stages) is the test's business time.
    env["CASEBOOK_CLOCK_OFFSET_SECONDS"] = str((clock.now() - datetime.now(UTC)).total_seconds())
    result = subprocess.run(
        [
            CASEBOOK,
            "report",
            "--db",
            db_url,
            "--from",
            WEEK[0].isoformat(),
            "--to",
            WEEK[1].isoformat(),
            "--png",
            str(chart),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["MID", "1"] in rows and ["CLOSED", "1"] in rows
    assert ["5", "1", "1", "2", "1", "50.0%", "50.0%"] in rows
    assert ["CNY", "5", "26,500", "1", "10,000"] in rows
    assert ["USD", "1", "3,000", "0", "0"] in rows
    assert ["PHONE", "3", "2", "66.7%", "1"] in rows
    picture = chart.read_bytes()
    assert picture.startswith(PNG_SIGNATURE)
    assert len(picture) > 20_000  # four panels of bars and labels, not an empty canvas
    assert "Wang Fang" not in result.stdout


def test_casebook_report_refuses_a_backwards_period(tmp_path):
    result = subprocess.run(
        [
            CASEBOOK,
            "report",
            "--db",
            f"sqlite:///{tmp_path}/case.db",
            "--from",
            "2026-12-01",
            "--to",
            "2026-11-01",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--to must be later than --from" in result.stderr
