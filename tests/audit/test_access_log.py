"""Every read of a case goes to an append-only access log before it is answered."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import grpc
import psycopg
import pytest

from casebook.v1 import case_service_pb2 as svc
from casebook_case.access_log import TABLE
from tests.support import open_case

AUDITOR = (("x-casebook-actor", "auditor:mei"), ("x-request-id", "req-42"))


def _entries(server, case_id: str):
    return server.app.access_log.entries(case_id=case_id)


def test_each_read_is_logged_with_who_when_how_and_outcome(server, clock):
    stub = server.stub
    case = open_case(stub)
    assert _entries(server, case.case_id) == []  # commands are not reads

    clock.advance(timedelta(minutes=1))
    stub.GetCase(svc.GetCaseRequest(case_id=case.case_id), metadata=AUDITOR)
    stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=1), metadata=AUDITOR)
    list(
        stub.GetCaseHistory(
            svc.GetCaseHistoryRequest(case_id=case.case_id, types=["CaseOpened"]),
            metadata=AUDITOR,
        )
    )
    stub.VerifyCaseHistory(svc.VerifyCaseHistoryRequest(case_id=case.case_id))

    entries = _entries(server, case.case_id)
    assert [(e.action, e.detail, e.outcome) for e in entries] == [
        ("GetCase", "", "OK"),
        ("GetCase", "as_of_version=1", "OK"),
        ("GetCaseHistory", "from_version=1 types=CaseOpened", "OK"),
        ("VerifyCaseHistory", "verify", "OK"),
    ]
    assert [e.actor for e in entries] == ["auditor:mei"] * 3 + ["anonymous"]
    assert [e.request_id for e in entries] == ["req-42"] * 3 + [""]
    assert {e.accessed_at.replace(tzinfo=None) for e in entries} == {
        clock.now().replace(tzinfo=None)
    }


def test_failed_reads_are_logged_too(server):
    missing = "00000000-0000-0000-0000-0000000000aa"
    with pytest.raises(grpc.RpcError):
        server.stub.GetCase(svc.GetCaseRequest(case_id=missing), metadata=AUDITOR)
    case = open_case(server.stub)
    with pytest.raises(grpc.RpcError):
        server.stub.GetCase(svc.GetCaseRequest(case_id=case.case_id, as_of_version=9))
    assert [e.outcome for e in _entries(server, missing)] == ["NotFound"]
    assert [e.outcome for e in _entries(server, case.case_id)] == ["NotFound"]


def test_concurrent_reads_are_each_logged_once(server):
    case = open_case(server.stub)
    errors: list[Exception] = []

    def read(n: int) -> None:
        try:
            for i in range(25):
                server.stub.GetCase(
                    svc.GetCaseRequest(case_id=case.case_id),
                    metadata=(("x-request-id", f"r{n}-{i}"),),
                )
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    request_ids = [e.request_id for e in _entries(server, case.case_id)]
    assert sorted(request_ids) == sorted(f"r{n}-{i}" for n in range(8) for i in range(25))


def _sql(db_url: str, statement: str) -> None:
    if db_url.startswith("sqlite"):
        connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            connection.execute(statement)
            connection.commit()
        finally:
            connection.close()
    else:
        url = db_url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url) as connection:
            connection.execute(statement)


def test_the_database_refuses_to_change_or_delete_log_entries(server, db_url):
    case = open_case(server.stub)
    server.stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
    attempts = [f"UPDATE {TABLE} SET actor = 'nobody'", f"DELETE FROM {TABLE}"]
    if not db_url.startswith("sqlite"):
        attempts.append(f"TRUNCATE {TABLE}")
    for statement in attempts:
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
            _sql(db_url, statement)
    assert [e.actor for e in _entries(server, case.case_id)] == ["anonymous"]


def test_a_read_that_cannot_be_logged_is_not_answered(server, db_url):
    case = open_case(server.stub)
    _sql(db_url, f"DROP TABLE {TABLE}")
    with pytest.raises(grpc.RpcError) as error:
        server.stub.GetCase(svc.GetCaseRequest(case_id=case.case_id))
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "access log" in error.value.details()
    with pytest.raises(grpc.RpcError) as streamed:
        list(server.stub.GetCaseHistory(svc.GetCaseHistoryRequest(case_id=case.case_id)))
    assert streamed.value.code() == grpc.StatusCode.UNAVAILABLE
