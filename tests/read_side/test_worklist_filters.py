"""ListCases filters: each field, as time passes and as cases change.

2026-11-23 (T0) is a Monday; T0 is 10:00 in Shanghai (UTC+8) and 21:00 on Sunday in New York.
"""

from __future__ import annotations

from datetime import timedelta

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.read_side.worklists import listed, open_case, page
from tests.support import later, ts


def test_days_past_due_and_stage_move_with_the_calendar_in_the_debtors_zone(server, clock):
    stub = server.stub
    by_dpd = {dpd: open_case(stub, dpd=dpd).case_id for dpd in (30, 59, 61, 89, 95)}
    new_york = open_case(stub, dpd=59, time_zone="America/New_York").case_id

    def dpd_between(low: int, high: int) -> set[str]:
        return listed(server, f"dpd >= {low} AND dpd <= {high}")

    assert listed(server, "stage = EARLY") == {by_dpd[30], by_dpd[59], new_york}
    assert listed(server, "stage = MID") == {by_dpd[61], by_dpd[89]}
    assert listed(server, "stage = LATE") == {by_dpd[95]}
    assert dpd_between(30, 89) == set(by_dpd.values()) - {by_dpd[95]} | {new_york}

    # Three hours on it is midnight in New York: a new day there, not yet in Shanghai.
    clock.advance(timedelta(hours=3))
    assert listed(server, "dpd = 60") == {new_york}
    assert listed(server, "stage = MID") == {by_dpd[61], by_dpd[89], new_york}
    assert listed(server, "dpd = 59") == {by_dpd[59]}

    # A day later in Shanghai too: 59 -> 60 is MID, 89 -> 90 is LATE.
    clock.advance(timedelta(days=1))
    assert listed(server, "stage = EARLY") == {by_dpd[30]}
    assert listed(server, "stage = MID") == {by_dpd[59], by_dpd[61], new_york}
    assert listed(server, "stage = LATE") == {by_dpd[89], by_dpd[95]}
    assert dpd_between(30, 89) == {by_dpd[30], by_dpd[59], by_dpd[61], new_york}

    # Paying off and closing stop the count; escalation raises the stage above the DPD's.
    stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=by_dpd[30], amount_minor=100_000, payment_reference="PAY-OFF-30"
        )
    )
    stub.CloseCase(svc.CloseCaseRequest(case_id=by_dpd[61], reason=pb.WRITTEN_OFF))
    stub.Escalate(
        svc.EscalateRequest(case_id=by_dpd[95], to_stage=pb.AGENCY, reason="placed with agency")
    )
    clock.advance(timedelta(days=40))
    assert listed(server, "dpd = 31") == {by_dpd[30]}  # stopped at 31 the day it was paid
    assert listed(server, "stage = EARLY") == {by_dpd[30]}
    assert listed(server, "stage = CLOSED") == {by_dpd[61]}
    assert listed(server, "stage = AGENCY") == {by_dpd[95]}
    assert listed(server, "stage = LATE") == {by_dpd[59], by_dpd[89], new_york}
    assert listed(server, "stage != LATE AND stage != CLOSED") == {by_dpd[30], by_dpd[95]}
    # What the worklist says is what the case shows.
    shown = {c.case_id: c for c in page(server, filter="dpd >= 0", page_size=500).cases}
    assert shown[by_dpd[30]].days_past_due == 31
    assert shown[by_dpd[89]].days_past_due == 130
    assert shown[by_dpd[95]].stage == pb.AGENCY


def test_assignee_profile_currency_and_balance(server):
    stub = server.stub
    mine = [open_case(stub).case_id for _ in range(2)]
    theirs = open_case(stub).case_id
    nobody = open_case(stub, amount=5_000).case_id
    american = open_case(
        stub, profile="US_REG_F", time_zone="America/New_York", currency="USD"
    ).case_id
    for case_id in mine:
        stub.AssignCase(svc.AssignCaseRequest(case_id=case_id, assignee="agent:7"))
    stub.AssignCase(svc.AssignCaseRequest(case_id=theirs, assignee="agent:8"))

    assert listed(server, 'assignee = "agent:7"') == set(mine)
    assert listed(server, "assignee = agent:8") == {theirs}
    assert listed(server, 'assignee = ""') == {nobody, american}
    assert listed(server, 'assignee != "agent:7"') == {theirs, nobody, american}
    assert listed(server, "profile = US_REG_F") == {american}
    assert listed(server, "profile = CN") == {*mine, theirs, nobody}
    assert listed(server, "currency = USD") == {american}
    assert listed(server, "balance < 10000") == {nobody}
    assert listed(server, 'assignee = "agent:7" OR assignee = "agent:8"') == {*mine, theirs}
    assert listed(server, 'NOT assignee = "" AND -assignee = "agent:8"') == set(mine)
    assert listed(server, '(profile = US_REG_F OR balance < 10000) AND assignee = ""') == {
        nobody,
        american,
    }


def test_promise_status_of_the_latest_promise_and_open_promises_falling_due(server, clock):
    stub = server.stub

    def promise(case_id: str, days: float, amount: int = 10_000, **more) -> str:
        return stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                amount_minor=amount,
                due_time=ts(later(days=days)),
                payment_channel=pb.ALIPAY,
                **more,
            )
        ).promise_id

    soon, later_on, kept, broken, replaced, none, plan = (open_case(stub).case_id for _ in range(7))
    promise(soon, 2)
    promise(later_on, 10)
    promise(kept, 2)
    stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=kept, amount_minor=10_000, payment_reference="KEPT-1")
    )
    promise(broken, 1)
    first = promise(replaced, 3)
    promise(replaced, 6, replaces_promise_id=first)
    stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=plan,
            amount_minor=20_000,
            payment_channel=pb.ALIPAY,
            instalments=[
                pb.Instalment(amount_minor=10_000, due_time=ts(later(days=3))),
                pb.Instalment(amount_minor=10_000, due_time=ts(later(days=30))),
            ],
        )
    )
    before_day_5 = '"' + later(days=5).isoformat().replace("+00:00", "Z") + '"'

    assert listed(server, "promise_status = OPEN") == {soon, later_on, broken, replaced, plan}
    assert listed(server, "promise_status = KEPT") == {kept}
    assert listed(server, "promise_status = NONE") == {none}
    # The plan's first instalment falls due on day 3.
    assert listed(server, f"open_promise_due_before = {before_day_5}") == {soon, broken, plan}

    stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=plan, amount_minor=10_000, payment_reference="PLAN-1")
    )
    assert listed(server, f"open_promise_due_before = {before_day_5}") == {soon, broken}

    clock.advance(timedelta(days=1, minutes=1))
    broken_promise = stub.GetCase(svc.GetCaseRequest(case_id=broken)).promises[0].promise_id
    stub.MarkPromiseBroken(svc.MarkPromiseBrokenRequest(case_id=broken, promise_id=broken_promise))
    assert listed(server, "promise_status = BROKEN") == {broken}
    assert listed(server, f"open_promise_due_before = {before_day_5}") == {soon}
    assert listed(server, "promise_status = OPEN") == {soon, later_on, replaced, plan}
    # The superseded promise is not the latest; the promise that replaced it is open.
    assert listed(server, "promise_status = SUPERSEDED") == set()


# Monday 11:00 in Shanghai, 22:00 on Sunday in New York.
MONDAY_1100_SHANGHAI = later(hours=1)


def test_contactable_now_follows_the_conduct_rules_at_the_time_of_the_request(server, clock):
    stub = server.stub
    plain = [open_case(stub).case_id for _ in range(7)]
    ceased, disputed, held, held_briefly, closed = (open_case(stub).case_id for _ in range(5))
    american = open_case(stub, profile="US_REG_F", time_zone="America/New_York").case_id
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=ceased, channel=pb.PHONE))
    stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=disputed, reason="not my card"))
    stub.PlaceHold(svc.PlaceHoldRequest(case_id=held, kind=pb.HARDSHIP, reason="lost job"))
    stub.PlaceHold(
        svc.PlaceHoldRequest(
            case_id=held_briefly, kind=pb.COMPLAINT, until=ts(later(hours=2)), reason="complaint"
        )
    )
    stub.CloseCase(svc.CloseCaseRequest(case_id=closed, reason=pb.OPENED_IN_ERROR))
    forbidden = {ceased, disputed, held, held_briefly, closed}

    clock.set(MONDAY_1100_SHANGHAI)
    assert listed(server, "contactable_now = true") == set(plain)
    assert listed(server, "contactable_now = PHONE", page_size=3) == set(plain)  # 3 pages
    assert listed(server, "contactable_now = false") == forbidden | {american}  # 22:00 in NY
    assert listed(server, "contactable_now = SMS") == {*plain, ceased}  # ceased PHONE only
    assert listed(server, "contactable_now = true AND profile = US_REG_F") == set()

    clock.set(later(hours=3))  # the brief hold has ended
    assert listed(server, "contactable_now = true") == {*plain, held_briefly}

    clock.set(later(hours=13))  # 23:00 in Shanghai; Monday 10:00 in New York
    assert listed(server, "contactable_now = true") == {american}
    assert listed(server, "contactable_now = false AND profile = CN") == {*plain, *forbidden}

    stub.ResolveDispute(
        svc.ResolveDisputeRequest(
            case_id=disputed,
            dispute_id=stub.GetCase(svc.GetCaseRequest(case_id=disputed)).disputes[0].dispute_id,
            resolution="card was used by the debtor",
        )
    )
    clock.set(later(days=1))  # Tuesday 10:00 in Shanghai
    assert listed(server, "contactable_now = true AND profile = CN") == {
        *plain,
        held_briefly,
        disputed,
    }


def test_the_filter_of_the_issue_in_one_expression(server, clock):
    stub = server.stub
    wanted = open_case(stub, dpd=95).case_id
    decoys = [open_case(stub, dpd=95).case_id for _ in range(3)]
    for case_id in (wanted, *decoys):
        stub.AssignCase(svc.AssignCaseRequest(case_id=case_id, assignee="agent:7"))
        stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case_id,
                amount_minor=10_000,
                due_time=ts(later(days=2)),
                payment_channel=pb.WECHAT_PAY,
            )
        )
    stub.Escalate(svc.EscalateRequest(case_id=decoys[0], to_stage=pb.AGENCY, reason="agency"))
    stub.RecordCeaseRequest(svc.RecordCeaseRequestRequest(case_id=decoys[1], channel=pb.PHONE))
    stub.AssignCase(svc.AssignCaseRequest(case_id=decoys[2], assignee="agent:8"))
    expression = (
        'stage = LATE AND dpd >= 90 AND dpd <= 99 AND assignee = "agent:7" AND profile = CN '
        'AND promise_status = OPEN AND open_promise_due_before = "2026-11-30T00:00:00Z" '
        "AND contactable_now = true"
    )
    assert listed(server, expression) == {wanted}
