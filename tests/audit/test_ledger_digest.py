"""GetLedgerDigest: a digest over every case's head at a log position, signed with the
configured Ed25519 key; an auditor can recompute it from the event stream alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.ledger import signed_message
from casebook_case.signing import generate_key_pair, load_public_key, signature_valid
from tests.support import InProcessServer, open_case


def _digest(stub, position: int = 0) -> svc.GetLedgerDigestResponse:
    return stub.GetLedgerDigest(svc.GetLedgerDigestRequest(position=position))


def _contact(stub, case_id: str) -> None:
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id, channel=pb.EMAIL, direction=pb.OUTBOUND, outcome=pb.DELIVERED
        )
    )


def _recomputed(stub, position: int) -> str:
    """The digest as an auditor computes it with nothing but the event stream and SHA-256:
    each case's last event at or before the position, one line per case in id order."""
    heads: dict[str, tuple[int, str]] = {}
    for item in stub.SubscribeEvents(svc.SubscribeEventsRequest(after_position=0), timeout=5):
        event = item.event
        if event.position > position:
            break
        heads[event.case_id] = (event.version, event.hash)
        if event.position == position:
            break
    hasher = hashlib.sha256(f"casebook-ledger-digest-v1\nposition {position}\n".encode())
    for case_id in sorted(heads):
        version, head_hash = heads[case_id]
        hasher.update(f"{case_id} {version} {head_hash}\n".encode())
    return hasher.hexdigest()


def test_digest_at_a_position_stays_fixed_while_the_log_grows(stub, clock):
    first = open_case(stub)
    second = open_case(stub)
    _contact(stub, first.case_id)
    saved = _digest(stub)
    assert saved.case_count == 2
    assert saved.signature == "" and saved.key_id == ""  # no key configured

    clock.advance(timedelta(minutes=5))
    _contact(stub, second.case_id)
    open_case(stub)
    assert _digest(stub, saved.position) == saved
    now = _digest(stub)
    assert now.position > saved.position
    assert (now.digest != saved.digest, now.case_count) == (True, 3)


def test_digest_is_what_an_auditor_recomputes_from_the_event_stream(stub, clock):
    cases = [open_case(stub).case_id for _ in range(3)]
    for case_id in cases * 2:
        clock.advance(timedelta(minutes=3))
        _contact(stub, case_id)
    middle = _digest(stub).position - 2
    for position in (middle, _digest(stub).position):
        assert _digest(stub, position).digest == _recomputed(stub, position)


def test_position_must_be_within_the_log(stub):
    open_case(stub)
    head = _digest(stub).position
    for position in (-1, head + 1):
        with pytest.raises(grpc.RpcError) as error:
            _digest(stub, position)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_empty_log_has_a_digest_of_no_cases(stub):
    digest = _digest(stub)
    assert (digest.position, digest.case_count) == (0, 0)
    assert len(digest.digest) == 64


def test_signed_digest_verifies_with_the_public_key_and_only_as_issued(db_url, clock, tmp_path):
    key_id = generate_key_pair(tmp_path / "ledger.pem", tmp_path / "ledger.pub.pem")
    assert oct((tmp_path / "ledger.pem").stat().st_mode & 0o777) == "0o600"
    server = InProcessServer(db_url, clock, ledger_key_file=str(tmp_path / "ledger.pem"))
    try:
        open_case(server.stub)
        digest = _digest(server.stub)
    finally:
        server.close()
    public_key = load_public_key(tmp_path / "ledger.pub.pem")
    assert digest.key_id == key_id
    assert signature_valid(
        public_key, signed_message(digest.position, digest.digest), digest.signature
    )
    forged = "0" * 64
    assert not signature_valid(
        public_key, signed_message(digest.position, forged), digest.signature
    )
    assert not signature_valid(
        public_key, signed_message(digest.position + 1, digest.digest), digest.signature
    )
    other_id = generate_key_pair(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    assert other_id != key_id
    assert not signature_valid(
        load_public_key(tmp_path / "other.pub.pem"),
        signed_message(digest.position, digest.digest),
        digest.signature,
    )


def test_unreadable_signing_key_is_refused_at_start(tmp_path):
    (tmp_path / "key.pem").write_text("not a key")
    env = dict(
        os.environ,
        CASEBOOK_CASE_DB_URL=f"sqlite:///{tmp_path}/case.db",
        CASEBOOK_CASE_LISTEN="127.0.0.1:0",
        CASEBOOK_LEDGER_KEY_FILE=str(tmp_path / "key.pem"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "casebook_case.server"], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 2
    assert b"CASEBOOK_LEDGER_KEY_FILE" in result.stderr
    assert b"Traceback" not in result.stderr
