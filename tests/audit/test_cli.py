"""`casebook audit` as an auditor runs it: the installed command, on the store itself."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.domain.canonical import canonical_json
from tests.audit.tamper import Tamperer
from tests.support import TEST_CIPHER_KEY, later, open_case, ts

CASEBOOK = str(Path(sys.executable).with_name("casebook"))


def casebook(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOOK_")}
    env["CASEBOOK_CIPHER_KEY"] = TEST_CIPHER_KEY
    return subprocess.run(
        [CASEBOOK, "audit", *args, "--db", db_url, "--actor", "auditor:wang"]
        if args[0] != "keygen"
        else [CASEBOOK, "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cases(stub, clock) -> list[str]:
    made = []
    for n in range(3):
        case = open_case(stub)
        stub.RecordPromise(
            svc.RecordPromiseRequest(
                case_id=case.case_id,
                amount_minor=20_000,
                due_time=ts(later(days=2)),
                payment_channel=pb.BANK_TRANSFER,
            )
        )
        for _ in range(n + 1):
            clock.advance(timedelta(minutes=7))
            stub.LogContact(
                svc.LogContactRequest(
                    case_id=case.case_id,
                    channel=pb.SMS,
                    direction=pb.OUTBOUND,
                    outcome=pb.DELIVERED,
                )
            )
        made.append(case.case_id)
    return made


def test_history_prints_every_event_with_personal_data_masked(db_url, cases):
    result = casebook("history", cases[2], db_url=db_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "TYPE", "OCCURRED"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["1", "CaseOpened"],
        ["2", "PromiseRecorded"],
        ["3", "ContactLogged"],
        ["4", "ContactLogged"],
        ["5", "ContactLogged"],
    ]
    assert "Li Lei" not in result.stdout and "+8613800138000" not in result.stdout


def test_verify_one_case_and_all_cases_then_find_the_tampered_one(db_url, cases):
    one = casebook("verify", cases[0], db_url=db_url)
    assert (one.returncode, one.stdout.split()[:2]) == (0, ["ok:", "3"])
    every = casebook("verify", "--all", db_url=db_url)
    assert every.returncode == 0, every.stderr
    assert "3 cases, 12 events: 0 broken" in every.stdout
    assert "verifying [" in every.stderr and "100% 3/3" in every.stderr

    Tamperer(db_url).change_payload(cases[1], 3, "outcome", "RIGHT_PARTY_CONTACT")
    every = casebook("verify", "--all", db_url=db_url)
    assert every.returncode == 1
    assert f"BROKEN {cases[1]} at version 3" in every.stderr
    assert "3 cases, 12 events: 1 broken" in every.stdout
    one = casebook("verify", cases[1], db_url=db_url)
    assert one.returncode == 1
    assert "BROKEN at version 3: version 3 does not match its hash" in one.stdout


def test_jsonl_export_lines_rehash_with_nothing_but_sha256(db_url, cases, tmp_path):
    out = tmp_path / "case.jsonl"
    result = casebook("export", cases[1], "--format", "jsonl", "-o", str(out), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "wrote 4 events (verified)" in result.stderr
    previous = ""
    for version, line in enumerate(out.read_text().splitlines(), start=1):
        record = json.loads(line)
        claimed = record.pop("hash")
        assert hashlib.sha256(canonical_json(record).encode()).hexdigest() == claimed
        assert (record["version"], record["previous_hash"]) == (version, previous)
        previous = claimed
    assert version == 4


def test_export_of_a_case_whose_events_no_longer_replay_still_shows_the_break(
    db_url, cases, tmp_path
):
    Tamperer(db_url).delete(cases[2], 2)
    out = tmp_path / "broken.jsonl"
    result = casebook("export", cases[2], "--format", "jsonl", "-o", str(out), db_url=db_url)
    assert result.returncode == 1
    assert "wrote 4 events (BROKEN)" in result.stderr and "Traceback" not in result.stderr
    assert [json.loads(line)["version"] for line in out.read_text().splitlines()] == [1, 3, 4, 5]
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # it holds personal data


def test_signed_digest_saved_then_checked_against_a_changed_store(db_url, cases, tmp_path):
    keys = casebook("keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub"), db_url=db_url)
    assert keys.returncode == 0, keys.stderr
    again = casebook("keygen", str(tmp_path / "k.pem"), str(tmp_path / "k2.pub"), db_url=db_url)
    assert (again.returncode, "not overwriting" in again.stderr) == (2, True)

    made = casebook("digest", "--key-file", str(tmp_path / "k.pem"), db_url=db_url)
    assert made.returncode == 0, made.stderr
    saved = json.loads(made.stdout)
    assert saved["signature"] and saved["case_count"] == 3
    (tmp_path / "digest.json").write_text(made.stdout)
    check = ("verify", "--all", "--digest", str(tmp_path / "digest.json"))
    keyed = (*check, "--public-key", str(tmp_path / "k.pub"))

    fine = casebook(*keyed, db_url=db_url)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "signature valid" in fine.stdout and "matches (3 cases)" in fine.stdout

    forged = dict(saved, digest="0" * 64)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = casebook("verify", "--all", "--digest", str(tmp_path / "forged.json"),
                   "--public-key", str(tmp_path / "k.pub"), db_url=db_url)  # fmt: skip
    assert bad.returncode == 1 and "SIGNATURE INVALID" in bad.stdout

    Tamperer(db_url).delete(cases[2], 5)  # the last event of a case: the chain alone passes
    after = casebook(*check, db_url=db_url)
    assert after.returncode == 1
    assert "0 broken" in after.stdout and "MISMATCH" in after.stdout


def test_access_log_shows_the_cli_reads(db_url, cases, tmp_path):
    casebook("history", cases[0], db_url=db_url)
    casebook("export", cases[0], "--format", "jsonl", "-o", str(tmp_path / "x"), db_url=db_url)
    shown = casebook("access", cases[0], db_url=db_url)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()[1:]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("auditor:wang", "cli-history", "from_version=1"),
        ("auditor:wang", "export", "format=jsonl"),
    ]


def test_clear_errors_for_unknown_case_missing_store_and_bad_id(db_url, cases, tmp_path):
    unknown = casebook("verify", "00000000-0000-0000-0000-000000000009", db_url=db_url)
    assert (unknown.returncode, "not found" in unknown.stderr) == (2, True)
    bad = casebook("history", "nope", db_url=db_url)
    assert (bad.returncode, "is not a case id" in bad.stderr) == (2, True)
    nowhere = casebook("verify", "--all", db_url=f"sqlite:///{tmp_path}/none.db")
    assert (nowhere.returncode, "no case store" in nowhere.stderr) == (2, True)
    assert not (tmp_path / "none.db").exists()
    for result in (unknown, bad, nowhere):
        assert "Traceback" not in result.stderr
