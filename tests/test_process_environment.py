"""The case store is configured by CaseConfig alone: eventsourcing's habit of reading
CASEBOOK_<SETTING> and bare settings from the process environment must not reach it."""

from __future__ import annotations

import sqlite3

from casebook_case.application import CaseApplication
from casebook_case.commands import OpenCase
from casebook_common.clock import ManualClock
from tests.support import T0, TEST_CIPHER_KEY, ServerProcess, open_case


def _open(app: CaseApplication) -> str:
    result = app.open_case(
        OpenCase(
            case_id="",
            request_id="env-1",
            account_id="ACC-ENV",
            debtor={"name": "Li Lei", "time_zone": "Asia/Shanghai"},
            overdue_amount_minor=100_000,
            currency="CNY",
            days_past_due=30,
        ),
        actor="test",
    )
    return result.case.id


def test_stray_store_settings_in_the_environment_are_ignored(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("CASEBOOK_SQLALCHEMY_URL", f"sqlite:///{elsewhere}")
    monkeypatch.setenv("SQLALCHEMY_URL", f"sqlite:///{elsewhere}")
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("CASEBOOK_CIPHER_KEY", "")  # the service's own variable, left empty
    store = tmp_path / "case.db"
    app = CaseApplication(f"sqlite:///{store}", clock=ManualClock(T0), cipher_key=TEST_CIPHER_KEY)
    try:
        case_id = _open(app)
        assert app.get_case(str(case_id)).account_id == "ACC-ENV"
    finally:
        app.close()
    assert not elsewhere.exists()
    with sqlite3.connect(store) as db:
        (stored,) = db.execute("SELECT state FROM casebook_events").fetchone()
    assert b"ACC-ENV" not in stored, "encrypted with the key passed in, not the empty variable"


def test_service_starts_with_an_empty_cipher_key_variable_beside_the_key_file(tmp_path):
    key_file = tmp_path / "cipher.key"
    key_file.write_text(TEST_CIPHER_KEY)
    server = ServerProcess(
        f"sqlite:///{tmp_path}/case.db",
        tmp_path / "case.log",
        CASEBOOK_CIPHER_KEY="",
        CASEBOOK_CIPHER_KEY_FILE=str(key_file),
    ).start()
    try:
        channel, stub = server.stub()
        with channel:
            assert open_case(stub).version == 1
    finally:
        assert server.terminate() == 0
    assert "Traceback" not in (tmp_path / "case.log").read_text()
