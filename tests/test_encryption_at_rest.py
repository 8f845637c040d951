"""Personal data is encrypted at rest: a raw copy of either service's database (the SQLite
files with their write-ahead logs, or a pg_dump) holds none of it in clear text."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.notify import harness
from tests.notify.harness import eventually
from tests.support import InProcessServer

stack = harness.stack

PERSONAL = {
    "name": "Zhao Xiaoming Q7",
    "phone": "+8613911112222",
    "email": "zhao.q7@example.cn",
    "address": "88 West Nanjing Road Q7, Shanghai",
    "id_number": "31010119850505999X",
}


def _open(stub) -> str:
    return stub.OpenCase(
        svc.OpenCaseRequest(
            request_id=uuid.uuid4().hex,
            account_id=f"ACC-{uuid.uuid4().hex[:8]}",
            debtor=pb.Debtor(time_zone="Asia/Shanghai", **PERSONAL),
            overdue_amount_minor=100_000,
            currency="CNY",
            days_past_due=30,
        )
    ).case_id


def raw_contents(db_url: str) -> bytes:
    """Everything the database holds, as an attacker with a copy of it would read it."""
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///").split("?")[0])
        files = sorted(path.parent.glob(path.name + "*"))  # the file, -wal and -shm
        assert path in files
        return b"".join(f.read_bytes() for f in files)
    url = db_url.replace("postgresql+psycopg", "postgresql")
    dump = subprocess.run(
        ["pg_dump", "--data-only", url], capture_output=True, check=True, timeout=60
    ).stdout
    # bytea columns are dumped as hex (\\x7b22...): read them as the bytes they are.
    stored = [bytes.fromhex(h.decode()) for h in re.findall(rb"\\\\x((?:[0-9a-f]{2})+)", dump)]
    return dump + b"".join(stored)


def found_in_clear(contents: bytes) -> list[str]:
    return [key for key, value in PERSONAL.items() if value.encode() in contents]


def test_case_and_notify_databases_hold_no_personal_data_in_clear(stack, db_url):
    case_id = _open(stack.cases)
    due = stack.clock.now() + timedelta(hours=4)
    stack.promise(case_id, due)
    notify = stack.start()
    # The reminder goes out two hours before the due time, to the debtor's phone and e-mail.
    stack.clock.advance(timedelta(hours=2))
    eventually(lambda: [m for m in stack.smtp.messages if PERSONAL["email"] in str(m)])
    eventually(lambda: [r for r in stack.http.posted("/sms") if PERSONAL["phone"] in str(r)])
    stack.clock.advance(timedelta(hours=2, minutes=1))  # and the promise is broken: an alert
    eventually(lambda: notify.alerts(case_id=case_id))
    stack.cases.GetCase(svc.GetCaseRequest(case_id=case_id))  # a read for the access log

    case_store = raw_contents(db_url)
    notify_store = raw_contents(stack.notify_db)
    # The copies are real: what is not personal is there to be read.
    assert case_id.encode() in case_store and case_id.encode() in notify_store
    assert found_in_clear(case_store) == []
    assert found_in_clear(notify_store) == []


def test_the_same_scan_finds_personal_data_in_a_store_without_a_key(db_url, clock, tmp_path):
    """The scan can fail: without encryption every item is there in clear."""
    server = InProcessServer(db_url, clock, cipher_key="")
    try:
        _open(server.stub)
    finally:
        server.close()
    assert sorted(found_in_clear(raw_contents(db_url))) == sorted(PERSONAL)


def _start_case_service(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    import os
    import sys

    settings = dict(
        os.environ,
        CASEBOOK_CASE_DB_URL=f"sqlite:///{tmp_path}/case.db",
        CASEBOOK_CASE_LISTEN="127.0.0.1:0",
        CASEBOOK_SHUTDOWN_GRACE_SECONDS="0",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "casebook_case.server"],
        env=settings,
        capture_output=True,
        timeout=30,
    )


def test_a_key_that_does_not_read_the_store_stops_the_service_at_start(clock, tmp_path):
    server = InProcessServer(f"sqlite:///{tmp_path}/case.db", clock)  # the test key
    try:
        _open(server.stub)
    finally:
        server.close()
    for env in (
        {"CASEBOOK_CIPHER_KEY": "b3RoZXIta2V5LTMyLWJ5dGVzLWxvbmctLS0tLS0tLS0="},  # another key
        {"CASEBOOK_CIPHER_KEY": ""},  # none
    ):
        result = _start_case_service(tmp_path, **env)
        assert result.returncode == 2, result.stderr[-500:]
        assert b"cannot be read" in result.stderr and b"Traceback" not in result.stderr
    bad = _start_case_service(tmp_path, CASEBOOK_CIPHER_KEY="too-short")
    assert (bad.returncode, b"16, 24 or 32" in bad.stderr) == (2, True)
