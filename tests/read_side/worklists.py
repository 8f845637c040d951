"""Helpers for the read-side tests: a small portfolio, worklist walks, projection rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy import create_engine, select

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.projections.tables import DATA_TABLES, position
from casebook_common.timestamps import utc
from tests.support import InProcessServer, details, ts

MAX_PAGES = 200  # a walk longer than this does not terminate


def open_case(
    stub: Any,
    *,
    dpd: int = 30,
    amount: int = 100_000,
    time_zone: str = "Asia/Shanghai",
    profile: str = "",
    currency: str = "CNY",
    opened_at: datetime | None = None,
) -> pb.Case:
    return stub.OpenCase(
        svc.OpenCaseRequest(
            request_id=uuid.uuid4().hex,
            account_id=f"ACC-{uuid.uuid4().hex[:8]}",
            debtor=pb.Debtor(
                name="Wang Fang",
                phone="+8613700137000",
                email="wang.fang@example.cn",
                address="9 Huaihai Road, Shanghai",
                time_zone=time_zone,
                id_number="310101198001010000",
            ),
            profile=profile,
            overdue_amount_minor=amount,
            currency=currency,
            days_past_due=dpd,
            opened_at=ts(opened_at) if opened_at else None,
        )
    )


def page(server: InProcessServer, metadata: Any = (), **fields: Any) -> svc.ListCasesResponse:
    """One ListCases call that includes every write made so far (read-your-writes)."""
    fields.setdefault("min_position", server.app.head_position())
    return server.stub.ListCases(svc.ListCasesRequest(**fields), metadata=metadata, timeout=20)


def walk(server: InProcessServer, **fields: Any) -> list[pb.Case]:
    """Every case of a worklist, page after page."""
    found: list[pb.Case] = []
    token = ""
    for _ in range(MAX_PAGES):
        response = page(server, page_token=token, **fields)
        found.extend(response.cases)
        token = response.next_page_token
        if not token:
            return found
    raise AssertionError(f"the walk did not end after {MAX_PAGES} pages")


def ids(cases: list[pb.Case]) -> list[str]:
    return [c.case_id for c in cases]


def listed(server: InProcessServer, filter: str = "", **fields: Any) -> set[str]:
    found = ids(walk(server, filter=filter, **fields))
    assert len(found) == len(set(found)), "a case appeared twice"
    return set(found)


def bad_request(call: Any) -> dict[str, str]:
    """The fields a refused call names, with their descriptions."""
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        violations = details(error)["BadRequest"].field_violations
        return {v.field: v.description for v in violations}
    raise AssertionError("the call was not refused")


def projection_rows(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table, in key order, times in UTC."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = {}
            for table in (*DATA_TABLES, position):
                query = select(table).order_by(*table.primary_key.columns)
                rows[table.name] = [
                    tuple(utc(v) if isinstance(v, datetime) else v for v in row)
                    for row in connection.execute(query)
                ]
            return rows
    finally:
        engine.dispose()
