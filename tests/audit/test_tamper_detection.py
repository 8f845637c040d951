"""Stored events edited directly in SQL are caught by VerifyCaseHistory at the version they
touch; a saved ledger digest catches what re-sealing a chain would hide."""

from __future__ import annotations

import itertools
from datetime import timedelta
from uuid import UUID

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.audit.tamper import Tamperer
from tests.support import later, open_case, ts


def _verify(stub, case_id: str) -> svc.VerifyCaseHistoryResponse:
    return stub.VerifyCaseHistory(svc.VerifyCaseHistoryRequest(case_id=case_id))


def _digest(stub, position: int = 0) -> svc.GetLedgerDigestResponse:
    return stub.GetLedgerDigest(svc.GetLedgerDigestRequest(position=position))


@pytest.fixture
def case_id(stub, clock) -> str:
    """A case with eight events: opened, promise, three contacts, payment, kept, letter."""
    case = open_case(stub, amount=300_000)
    stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=100_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.BANK_TRANSFER,
        )
    )
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED
            )
        )
    stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=case.case_id, amount_minor=100_000, payment_reference="PAY-1"
        )
    )
    stub.IssueLetter(svc.IssueLetterRequest(case_id=case.case_id, letter_type=pb.REMINDER))
    assert _verify(stub, case.case_id).event_count == 8
    return case.case_id


def test_untouched_history_verifies_and_its_hashes_link_up(stub, case_id):
    report = _verify(stub, case_id)
    assert (report.ok, report.event_count, report.first_bad_version, report.problem) == (
        True,
        8,
        0,
        "",
    )
    events = list(stub.GetCaseHistory(svc.GetCaseHistoryRequest(case_id=case_id)))
    assert events[0].previous_hash == ""
    for before, after in itertools.pairwise(events):
        assert after.previous_hash == before.hash
    assert report.head_hash == events[-1].hash
    assert len({e.hash for e in events}) == 8


def test_changed_payload_is_detected_at_its_version(stub, server, db_url, case_id):
    Tamperer(db_url).change_payload(case_id, 6, "amount_minor", 1_000_000)
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version) == (False, 6)
    assert "does not match its hash" in report.problem
    assert report.event_count == 8


def test_changed_actor_or_business_time_is_detected(stub, db_url, case_id):
    tamper = Tamperer(db_url)
    tamper.change_payload(case_id, 4, "actor", "someone-else")
    assert _verify(stub, case_id).first_bad_version == 4
    state = tamper.state(case_id, 3)
    state["occurred_at"]["_data_"] = "2026-01-01T00:00:00+00:00"
    tamper.write_state(case_id, 3, state)
    assert _verify(stub, case_id).first_bad_version == 3


def test_deleted_row_is_detected_at_the_missing_version(stub, db_url, case_id):
    Tamperer(db_url).delete(case_id, 5)
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version, report.event_count) == (False, 5, 7)
    assert "version 5 is missing" in report.problem


def test_swapped_rows_are_detected_at_the_first_of_them(stub, db_url, case_id):
    Tamperer(db_url).swap(case_id, 3, 5)
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version) == (False, 3)


def test_forged_row_appended_is_detected_at_its_version(stub, db_url, case_id):
    tamper = Tamperer(db_url)
    forged = tamper.state(case_id, 6)  # a second payment, copied from the real one
    forged["payment_reference"] = "PAY-FORGED"
    forged["previous_hash"] = tamper.state(case_id, 8)["hash"]
    tamper.insert(case_id, 9, tamper.topic(case_id, 6), forged)
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version, report.event_count) == (False, 9, 9)


def test_forged_row_in_front_of_the_first_event_is_detected(stub, db_url, case_id):
    tamper = Tamperer(db_url)
    tamper.insert(case_id, 0, tamper.topic(case_id, 1), tamper.state(case_id, 1))
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version) == (False, 1)
    assert "unexpected version 0" in report.problem


def test_rewritten_and_resealed_event_is_blamed_not_its_successor(stub, db_url, case_id):
    """Re-sealing one event makes it self-consistent, but the next event still names the
    original hash, so the rewritten version is the one reported."""
    tamper = Tamperer(db_url)
    state = tamper.state(case_id, 4)
    state["outcome"] = "RIGHT_PARTY_CONTACT"
    tamper.write_state(case_id, 4, tamper.resealed(case_id, 4, tamper.topic(case_id, 4), state))
    report = _verify(stub, case_id)
    assert (report.ok, report.first_bad_version) == (False, 4)
    assert "version 4 was rewritten" in report.problem


def test_resealed_tail_passes_the_chain_but_not_a_saved_digest(stub, db_url, case_id):
    """Someone who rewrites an event and re-seals every event after it leaves a chain that
    verifies: only a digest saved before shows the change."""
    saved = _digest(stub)
    tamper = Tamperer(db_url)
    previous_hash = tamper.state(case_id, 5)["hash"]
    for version in (6, 7, 8):
        state = tamper.state(case_id, version)
        if version == 6:
            state["amount_minor"] = 1
        state["previous_hash"] = previous_hash
        state = tamper.resealed(case_id, version, tamper.topic(case_id, version), state)
        tamper.write_state(case_id, version, state)
        previous_hash = state["hash"]
    assert _verify(stub, case_id).ok
    assert _digest(stub, saved.position).digest != saved.digest


def test_removed_last_event_passes_the_chain_but_not_a_saved_digest(stub, db_url, case_id):
    saved = _digest(stub)
    open_case(stub)  # the log goes on
    Tamperer(db_url).delete(case_id, 8)
    assert _verify(stub, case_id).ok
    assert _digest(stub, saved.position).digest != saved.digest


def test_unknown_case_is_not_found_and_bad_id_is_invalid(stub):
    with pytest.raises(grpc.RpcError) as missing:
        _verify(stub, "00000000-0000-0000-0000-000000000001")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as bad:
        _verify(stub, "not-a-case")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_changed_snapshot_is_detected_though_every_event_is_intact(stub, server, db_url):
    """GetCase starts from the latest snapshot, so a forged snapshot would change what
    callers see without touching an event: verification replays and compares."""
    case = open_case(stub, amount=300_000)
    for _ in range(100):
        stub.LogContact(
            svc.LogContactRequest(
                case_id=case.case_id, channel=pb.EMAIL, direction=pb.OUTBOUND, outcome=pb.DELIVERED
            )
        )
    assert _verify(stub, case.case_id).ok
    tamper = Tamperer(db_url)
    tamper.table = "casebook_snapshots"
    state = tamper.state(case.case_id, 100)
    state["state"]["balance_minor"] = 1
    tamper.write_state(case.case_id, 100, state)
    server.app._evict(UUID(case.case_id))  # as after a restart: read from the snapshot
    assert stub.GetCase(svc.GetCaseRequest(case_id=case.case_id)).balance_minor == 1
    report = _verify(stub, case.case_id)
    assert (report.ok, report.first_bad_version) == (False, 100)
    assert "snapshot at version 100" in report.problem
