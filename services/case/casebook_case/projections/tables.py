"""The read side's tables: what worklists and portfolio statistics are answered from.

Every row is derived from case events only (never from the time it was written), so
replaying the log from scratch gives the same rows as following it live. No personal data
is kept here (no name, phone, e-mail, address, id number, account number or free text):
the debtor's details stay in the encrypted event store, and ListCases shows each case by
reading it from there.

Times are stored in UTC. Local calendar days (for days past due) are stored as proleptic
Gregorian ordinals (`date.toordinal()`), so that SQL can do day arithmetic on plain integers
on every backend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from casebook_case.projections import migrations
from casebook_common.schema import lock_schema

metadata = MetaData()

# The position in the event log that every other table includes events up to. One row per
# projector; compare-and-set on it makes each batch of events apply exactly once, however
# many replicas (or a rebuild) run the projector at the same time.
position = Table(
    "casebook_proj_position",
    metadata,
    Column("projector", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

cases = Table(
    "casebook_proj_cases",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("profile", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),  # the debtor's zone: days change there
    Column("assignee", String(128), nullable=False),  # "" when unassigned
    Column("overdue_amount_minor", BigInteger, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    # The local day on which days past due were (or would have been) 0: DPD on local day D
    # is D - dpd_zero_day, until it stops.
    Column("dpd_zero_day", Integer, nullable=False),
    Column("paid_off_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # DPD stops at the earlier of paid_off_at and closed_at: the instant and its local day.
    Column("stopped_at", DateTime(timezone=True)),
    Column("stopped_day", Integer),
    # Highest stage reached by escalation: 0 none, 1 EARLY .. 5 LEGAL (see STAGE_RANK).
    Column("escalated_rank", Integer, nullable=False),
    Column("close_reason", String(32), nullable=False),
    Column("open_disputes", Integer, nullable=False),
    Column("ceased_channels", String(128), nullable=False),  # ",PHONE,SMS," ("" none)
    Column("latest_promise_id", String(36), nullable=False),
    Column("promise_status", String(16), nullable=False),  # of the latest promise; NONE
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # last event recorded
    Column("version", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),  # log position of the last event
    Index("casebook_proj_cases_assignee", "assignee", "case_id"),
    Index("casebook_proj_cases_opened", "opened_at", "case_id"),
    Index("casebook_proj_cases_updated", "updated_at", "case_id"),
    Index("casebook_proj_cases_balance", "balance_minor", "case_id"),
    Index("casebook_proj_cases_zone", "time_zone", "dpd_zero_day"),
)

promises = Table(
    "casebook_proj_promises",
    metadata,
    Column("promise_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("paid_minor", BigInteger, nullable=False),  # allocated by its due times
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("due_time", DateTime(timezone=True), nullable=False),  # the last instalment's
    # While OPEN: the due time of the first instalment not yet covered; NULL otherwise.
    Column("next_due_at", DateTime(timezone=True)),
    # When the promise is counted as due in statistics: due_time, or once broken the due
    # time of the instalment it missed.
    Column("falls_due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_at", DateTime(timezone=True)),  # when it stopped being OPEN
    Column("instalments", Text, nullable=False),  # JSON [[amount_minor, due ISO], ...]
    Index("casebook_proj_promises_case", "case_id"),
    Index("casebook_proj_promises_next_due", "status", "next_due_at"),
    Index("casebook_proj_promises_falls_due", "falls_due_at"),
    Index("casebook_proj_promises_recorded", "recorded_at"),
)

payments = Table(
    "casebook_proj_payments",
    metadata,
    Column("payment_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("overpayment_minor", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("casebook_proj_payments_received", "received_at"),
)

# One row per logged contact (refused ones never happened and are not here).
contacts = Table(
    "casebook_proj_contacts",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("party_reached", String(32), nullable=False),  # DEBTOR, THIRD_PARTY, ...
    Index("casebook_proj_contacts_occurred", "occurred_at"),
)

holds = Table(
    "casebook_proj_holds",
    metadata,
    Column("hold_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True)),
    Column("released_at", DateTime(timezone=True)),
    Column("ends_at", DateTime(timezone=True)),  # the earlier of until and released_at
    Index("casebook_proj_holds_case", "case_id"),
)

# Every table a rebuild empties and a comparison reads, position last.
DATA_TABLES = (cases, promises, payments, contacts, holds)

# Stage order for comparisons in SQL; CLOSED above the escalation ladder.
STAGE_RANK = {"EARLY": 1, "MID": 2, "LATE": 3, "AGENCY": 4, "LEGAL": 5, "CLOSED": 6}
STAGE_OF_RANK = {rank: stage for stage, rank in STAGE_RANK.items()}


def create_tables(session: Any) -> None:
    """Bring the tables to the newest migration (projections/migrations), in the session's
    transaction. Replicas starting together on PostgreSQL take turns: DDL there is
    transactional and the schema lock is held to the end of the transaction."""
    connection = session.connection()
    lock_schema(connection)
    migrations.upgrade(connection)


def ensure_position_row(session: Any, projector: str) -> None:
    found = session.execute(
        select(position.c.position).where(position.c.projector == projector)
    ).first()
    if found is None:
        session.execute(insert(position).values(projector=projector, position=0))


def empty_tables(session: Any, projector: str) -> None:
    """Every row gone and the position back to 0, in the caller's transaction."""
    for table in DATA_TABLES:
        session.execute(delete(table))
    session.execute(delete(position).where(position.c.projector == projector))
    session.execute(insert(position).values(projector=projector, position=0))
