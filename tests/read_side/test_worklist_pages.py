"""ListCases pages: ordering, page tokens, bad requests, reading one's own writes, and a walk
through the pages while others write."""

from __future__ import annotations

import base64
import json
import random
import threading
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.read_side.worklists import MAX_PAGES, bad_request, ids, open_case, page, walk
from tests.support import InProcessServer, details, later, ts


def _when(stamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


@pytest.fixture
def portfolio(server, clock) -> dict[str, pb.Case]:
    """Twelve cases: DPDs with ties; balances, opening and update times all different."""
    stub = server.stub
    made = []
    for n in range(12):
        clock.advance(timedelta(minutes=5))
        made.append(
            open_case(
                stub,
                dpd=(30, 45, 60, 90)[n % 4] - n,  # opened n days ago: (30, 45, 60, 90) now
                amount=100_000 + 7_919 * ((n * 5) % 12),
                opened_at=later(days=-n),
            )
        )
    for case in reversed(made[::3]):  # later updates for some, in another order
        clock.advance(timedelta(minutes=5))
        stub.AssignCase(svc.AssignCaseRequest(case_id=case.case_id, assignee="agent:7"))
    return {c.case_id: c for c in walk(server, page_size=500)}


@pytest.mark.parametrize(
    ("order_by", "key"),
    [
        ("", lambda c: c.case_id),
        ("dpd desc", lambda c: (-c.days_past_due, c.case_id)),
        ("days_past_due", lambda c: (c.days_past_due, c.case_id)),
        ("balance desc", lambda c: (-c.balance_minor, c.case_id)),
        ("opened_at", lambda c: (_when(c.opened_at), c.case_id)),
        ("updated_at desc", lambda c: (-_when(c.updated_at).timestamp(), c.case_id)),
        ("dpd desc, balance", lambda c: (-c.days_past_due, c.balance_minor, c.case_id)),
        ("dpd, case_id desc", lambda c: (c.days_past_due, [-ord(x) for x in c.case_id])),
    ],
)
def test_orderings_hold_across_pages(server, portfolio, order_by, key):
    walked = walk(server, order_by=order_by, page_size=5)
    assert ids(walked) == ids(sorted(portfolio.values(), key=key))


def test_page_size_defaults_to_50_and_is_capped_at_500(server, clock):
    stub = server.stub
    for _ in range(55):
        open_case(stub)
    first = page(server)
    assert len(first.cases) == 50 and first.next_page_token
    rest = page(server, page_token=first.next_page_token)
    assert len(rest.cases) == 5 and not rest.next_page_token
    assert len(page(server, page_size=100_000).cases) == 55


def test_every_case_listed_is_a_read_in_the_access_log(server):
    stub = server.stub
    shown = [open_case(stub).case_id for _ in range(3)]
    caller = (("x-casebook-actor", "agent:7"), ("x-request-id", "worklist-1"))
    listed = page(server, metadata=caller, filter="dpd >= 0")
    assert set(ids(listed.cases)) == set(shown)
    assert listed.cases[0].debtor.name == "Wang Fang"  # read from the case, not the projection
    for case_id in shown:
        reads = [e for e in server.app.access_log.entries(case_id) if e.action == "ListCases"]
        assert [(e.actor, e.request_id, e.outcome) for e in reads] == [
            ("agent:7", "worklist-1", "OK")
        ]


def _token(**document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"filter": "stage = LATE AND"}, "filter"),
        ({"filter": "stage = OVERDUE"}, "filter"),
        ({"filter": "stage > LATE"}, "filter"),
        ({"filter": "color = red"}, "filter"),
        ({"filter": "dpd >= thirty"}, "filter"),
        ({"filter": "stage = LATE and dpd > 3"}, "filter"),
        ({"filter": "(stage = LATE"}, "filter"),
        ({"filter": 'assignee = "agent:7'}, "filter"),
        ({"filter": "open_promise_due_before = 2026-11-30"}, "filter"),
        ({"filter": "open_promise_due_before < 2026-11-30T00:00:00Z"}, "filter"),
        ({"filter": 'open_promise_due_before = "0001-01-01T00:00:00+05:00"'}, "filter"),
        ({"filter": "contactable_now = maybe"}, "filter"),
        ({"filter": "contactable_now = true OR stage = LATE"}, "filter"),
        ({"filter": "NOT contactable_now = true"}, "filter"),
        ({"filter": "profile = MARS"}, "filter"),
        ({"filter": "stage = LATE " * 200}, "filter"),
        ({"filter": "(" * 30 + "stage = LATE" + ")" * 30}, "filter"),
        ({"order_by": "debtor_name"}, "order_by"),
        ({"order_by": "dpd sideways"}, "order_by"),
        ({"order_by": "dpd, dpd desc"}, "order_by"),
        ({"order_by": "case_id, dpd"}, "order_by"),
        ({"page_size": -1}, "page_size"),
        ({"min_position": -1}, "min_position"),
        ({"min_position": 10**12}, "min_position"),  # beyond the head of the log
        ({"page_token": "not a token"}, "page_token"),
        ({"page_token": "eyJ2IjoxfQ"}, "page_token"),  # {"v":1}
        ({"page_token": "x" * 5000}, "page_token"),
        (
            {"page_token": _token(v=1, f="0" * 16, at="2026-11-23T02:00:00+00:00", after=[])},
            "page_token",
        ),
    ],
)
def test_bad_requests_are_invalid_argument_naming_the_field(server, fields, field):
    open_case(server.stub)
    named = bad_request(lambda: server.stub.ListCases(svc.ListCasesRequest(**fields), timeout=10))
    assert field in named, named


def test_a_page_token_only_goes_with_its_own_filter_and_order(server):
    for _ in range(3):
        open_case(server.stub)
    first = page(server, filter="dpd >= 0", order_by="dpd desc", page_size=1)
    assert first.next_page_token
    for other in ({"filter": "dpd >= 1"}, {"order_by": "dpd"}, {"filter": "", "order_by": ""}):
        fields = {"filter": "dpd >= 0", "order_by": "dpd desc", **other}
        named = bad_request(
            lambda f=fields: page(server, page_token=first.next_page_token, **f)  # type: ignore[misc]
        )
        assert "another filter" in named["page_token"]
    # Spacing does not make another filter.
    again = page(server, filter="dpd>=0", order_by="dpd  desc", page_token=first.next_page_token)
    assert again.cases and again.cases[0].case_id != first.cases[0].case_id


@pytest.mark.parametrize(
    "change",
    [
        {"at": "0001-01-01T00:00:00+00:00"},
        {"at": "2026-11-23T02:00:00"},
        {"after": [1, 2, 3]},
        {"after": [{"x": 1}, "id"]},
        {"after": [10**30, "id"]},
        {"v": 2},
    ],
)
def test_a_forged_page_token_is_refused(server, change):
    for _ in range(3):
        open_case(server.stub)
    token = page(server, order_by="dpd desc", page_size=1).next_page_token
    document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    forged = _token(**{**document, **change})
    named = bad_request(lambda: page(server, order_by="dpd desc", page_token=forged))
    assert "page_token" in named


def test_a_whole_walk_is_evaluated_at_the_time_of_its_first_page(server, clock):
    """The instant a walk's filter and order are evaluated at travels in its token: a day
    passing half way through does not list a case twice or skip one. (Each case is shown as
    it is when its page is read.)"""
    made = {dpd: open_case(server.stub, dpd=dpd).case_id for dpd in (10, 20, 30, 40)}
    first = page(server, filter="dpd <= 30", order_by="dpd", page_size=2)
    assert [c.days_past_due for c in first.cases] == [10, 20]
    clock.advance(timedelta(days=1))
    # Evaluated now, the rest of the walk would be "dpd <= 30 after 20": the case that was
    # 20 (21 now) again; evaluated at the first page's instant it is the case that was 30.
    rest = page(
        server, filter="dpd <= 30", order_by="dpd", page_size=2, page_token=first.next_page_token
    )
    assert ids(rest.cases) == [made[30]] and rest.cases[0].days_past_due == 31
    assert not rest.next_page_token
    # A new walk starts from the new day.
    renewed = walk(server, filter="dpd <= 30", order_by="dpd")
    assert [c.days_past_due for c in renewed] == [11, 21]


def test_min_position_reads_ones_own_writes_and_otherwise_answers_unavailable(db_url, clock):
    server = InProcessServer(db_url, clock, projection_wait_seconds=0.5)
    try:
        stub = server.stub
        case = open_case(stub)
        assigned = stub.AssignCase(svc.AssignCaseRequest(case_id=case.case_id, assignee="a:1"))
        mine = svc.ListCasesRequest(filter='assignee = "a:1"', min_position=assigned.log_position)
        assert ids(stub.ListCases(mine).cases) == [case.case_id]

        # With the projector stopped, the worklist lags behind the writes.
        server._call(server.running.projector.stop())
        moved = stub.AssignCase(svc.AssignCaseRequest(case_id=case.case_id, assignee="a:2"))
        stale = svc.ListCasesRequest(filter='assignee = "a:2"')
        assert list(stub.ListCases(stale).cases) == []
        waiting = svc.ListCasesRequest(filter='assignee = "a:2"', min_position=moved.log_position)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListCases(waiting)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        found = details(caught.value)
        assert found["ErrorInfo"].reason == "PROJECTION_BEHIND"
        assert found["RetryInfo"].retry_delay.seconds >= 1

        # Back on, the same request is answered, with the write in it.
        server._call(server.running.projector.start())
        assert ids(stub.ListCases(waiting).cases) == [case.case_id]
    finally:
        server.close()


def test_a_walk_while_others_write_lists_every_steady_case_exactly_once(server):
    """Writers open new cases (some match, some do not) and change cases the walk has seen
    or not yet seen, in ways that keep them matching with the same sort key; the walk
    terminates and lists each steady case exactly once."""
    stub = server.stub
    rng = random.Random(6)
    steady = {open_case(stub, dpd=rng.randrange(0, 60)).case_id for _ in range(40)}
    for _ in range(10):
        open_case(stub, dpd=rng.randrange(60, 120))  # MID and LATE: never in the walk
    wanted = {"filter": "stage = EARLY", "order_by": "dpd desc", "page_size": 6}

    writes = threading.Semaphore(0)
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        local = random.Random(seed)
        targets = sorted(steady)
        try:
            while not stop.is_set():
                action = local.randrange(4)
                if action == 0:
                    open_case(stub, dpd=local.randrange(0, 120))
                elif action == 1:
                    stub.AssignCase(
                        svc.AssignCaseRequest(
                            case_id=local.choice(targets), assignee=f"agent:{local.randrange(9)}"
                        )
                    )
                elif action == 2:
                    stub.LogContact(
                        svc.LogContactRequest(
                            case_id=local.choice(targets),
                            channel=pb.PHONE,
                            direction=pb.INBOUND,
                            outcome=pb.RIGHT_PARTY_VERIFIED,
                        )
                    )
                else:
                    stub.RecordPromise(
                        svc.RecordPromiseRequest(
                            case_id=local.choice(targets),
                            amount_minor=1_000,
                            due_time=ts(later(days=3)),
                            payment_channel=pb.ALIPAY,
                        )
                    )
                writes.release()
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)
            writes.release()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(3)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    token = ""
    before = server.app.head_position()  # the steady cases are all in the first page's view
    pages = 0
    try:
        for pages in range(1, MAX_PAGES):  # noqa: B007
            # Let the writers get some writes in between every two pages.
            for _ in range(3):
                assert writes.acquire(timeout=10), "the writers stopped writing"
            response = server.stub.ListCases(
                svc.ListCasesRequest(page_token=token, min_position=before, **wanted)
            )
            seen.extend(ids(response.cases))
            token = response.next_page_token
            if not token:
                break
        else:
            pytest.fail("the walk did not terminate")
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not failures, failures
    assert len(seen) == len(set(seen)), "a case was listed twice"
    assert steady <= set(seen)
    assert pages >= 7  # 40 or more cases, 6 a page
    assert server.app.head_position() - before >= 3 * pages  # written during the walk
