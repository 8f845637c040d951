"""The read model as it was when migrations began: worklist and statistics tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Stores made before migrations existed already have these tables (made by create_all, no
version table): every table and index here is created only if missing, so such a store is
adopted as it is, with its rows, and one half-made by an interrupted first start on SQLite
is completed. Later revisions are plain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _table(name: str, *columns: sa.Column) -> None:
    op.create_table(name, *columns, if_not_exists=True)


def _index(name: str, table: str, *columns: str) -> None:
    op.create_index(name, table, list(columns), if_not_exists=True)


def upgrade() -> None:
    _table(
        "casebook_proj_position",
        sa.Column("projector", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    _table(
        "casebook_proj_cases",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(128), nullable=False),
        sa.Column("overdue_amount_minor", sa.BigInteger, nullable=False),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
        sa.Column("dpd_zero_day", sa.Integer, nullable=False),
        sa.Column("paid_off_at", _utc()),
        sa.Column("closed_at", _utc()),
        sa.Column("stopped_at", _utc()),
        sa.Column("stopped_day", sa.Integer),
        sa.Column("escalated_rank", sa.Integer, nullable=False),
        sa.Column("close_reason", sa.String(32), nullable=False),
        sa.Column("open_disputes", sa.Integer, nullable=False),
        sa.Column("ceased_channels", sa.String(128), nullable=False),
        sa.Column("latest_promise_id", sa.String(36), nullable=False),
        sa.Column("promise_status", sa.String(16), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    _index("casebook_proj_cases_assignee", "casebook_proj_cases", "assignee", "case_id")
    _index("casebook_proj_cases_opened", "casebook_proj_cases", "opened_at", "case_id")
    _index("casebook_proj_cases_updated", "casebook_proj_cases", "updated_at", "case_id")
    _index("casebook_proj_cases_balance", "casebook_proj_cases", "balance_minor", "case_id")
    _index("casebook_proj_cases_zone", "casebook_proj_cases", "time_zone", "dpd_zero_day")
    _table(
        "casebook_proj_promises",
        sa.Column("promise_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_minor", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.Column("due_time", _utc(), nullable=False),
        sa.Column("next_due_at", _utc()),
        sa.Column("falls_due_at", _utc(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", _utc()),
        sa.Column("instalments", sa.Text, nullable=False),
    )
    _index("casebook_proj_promises_case", "casebook_proj_promises", "case_id")
    _index("casebook_proj_promises_next_due", "casebook_proj_promises", "status", "next_due_at")
    _index("casebook_proj_promises_falls_due", "casebook_proj_promises", "falls_due_at")
    _index("casebook_proj_promises_recorded", "casebook_proj_promises", "recorded_at")
    _table(
        "casebook_proj_payments",
        sa.Column("payment_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("overpayment_minor", sa.BigInteger, nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
    )
    _index("casebook_proj_payments_received", "casebook_proj_payments", "received_at")
    _table(
        "casebook_proj_contacts",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("occurred_at", _utc(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("party_reached", sa.String(32), nullable=False),
    )
    _index("casebook_proj_contacts_occurred", "casebook_proj_contacts", "occurred_at")
    _table(
        "casebook_proj_holds",
        sa.Column("hold_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("since", _utc(), nullable=False),
        sa.Column("until", _utc()),
        sa.Column("released_at", _utc()),
        sa.Column("ends_at", _utc()),
    )
    _index("casebook_proj_holds_case", "casebook_proj_holds", "case_id")


def downgrade() -> None:
    # The read model is derived from the event log: going back means dropping it (a
    # rebuild refills it from the log).
    for table in (
        "casebook_proj_holds",
        "casebook_proj_contacts",
        "casebook_proj_payments",
        "casebook_proj_promises",
        "casebook_proj_cases",
        "casebook_proj_position",
    ):
        op.drop_table(table)
