"""Portfolio statistics over a period, from the projection tables.

Periods are half-open, [start, end). Amounts are summed per currency and never added across
currencies. Rates are fractions between 0 and 1 (0 when there is nothing to divide by).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from casebook_case.application import CaseApplication
from casebook_case.domain.errors import FieldViolation, InvalidArgument
from casebook_case.projections.tables import (
    STAGE_OF_RANK,
    STAGE_RANK,
    contacts,
    payments,
    position,
    promises,
)
from casebook_case.projections.worklist import TimeView


@dataclass(frozen=True)
class PromiseOutcomes:
    fell_due: int = 0
    kept: int = 0
    broken: int = 0
    open: int = 0
    withdrawn: int = 0  # cancelled or superseded

    @property
    def kept_rate(self) -> float:
        decided = self.kept + self.broken
        return self.kept / decided if decided else 0.0

    @property
    def broken_rate(self) -> float:
        decided = self.kept + self.broken
        return self.broken / decided if decided else 0.0


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    promises_recorded: int = 0
    promised_minor: int = 0
    payments_received: int = 0
    collected_minor: int = 0


@dataclass(frozen=True)
class ChannelContacts:
    channel: str
    attempts: int = 0  # outbound
    right_party_contacts: int = 0  # outbound that reached the debtor
    inbound: int = 0

    @property
    def right_party_rate(self) -> float:
        return self.right_party_contacts / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class PortfolioStats:
    start: datetime
    end: datetime
    at: datetime  # when cases_per_stage was taken
    position: int
    cases_per_stage: dict[str, int]
    promises: PromiseOutcomes
    amounts: list[CurrencyTotals] = field(default_factory=list)
    contacts: list[ChannelContacts] = field(default_factory=list)


def validate_period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    violations = []
    if start is None:
        violations.append(FieldViolation("start_time", "is required"))
    if end is None:
        violations.append(FieldViolation("end_time", "is required"))
    if start is not None and end is not None and end <= start:
        violations.append(FieldViolation("end_time", "must be later than start_time"))
    if violations:
        raise InvalidArgument(violations)
    assert start is not None and end is not None
    return start, end


def portfolio_stats(
    app: CaseApplication, start: datetime | None, end: datetime | None
) -> PortfolioStats:
    start, end = validate_period(start, end)
    at = app.clock.now()
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as session:
        reached = session.execute(select(position.c.position)).scalars().all()
        return PortfolioStats(
            start=start,
            end=end,
            at=at,
            position=int(max(reached, default=0)),
            cases_per_stage=_cases_per_stage(session, at),
            promises=_promise_outcomes(session, start, end),
            amounts=_amounts(session, start, end),
            contacts=_contacts(session, start, end),
        )


def _cases_per_stage(session: Any, at: datetime) -> dict[str, int]:
    view = TimeView(session, at)
    counts = dict.fromkeys(STAGE_RANK, 0)
    query = select(view.stage_rank, func.count()).where(view.known_zone).group_by(view.stage_rank)
    for rank, count in session.execute(query):
        counts[STAGE_OF_RANK[rank]] = int(count)
    return counts


def _promise_outcomes(session: Any, start: datetime, end: datetime) -> PromiseOutcomes:
    query = (
        select(promises.c.status, func.count())
        .where(promises.c.falls_due_at >= start, promises.c.falls_due_at < end)
        .group_by(promises.c.status)
    )
    by_status = {status: int(count) for status, count in session.execute(query)}
    return PromiseOutcomes(
        fell_due=sum(by_status.values()),
        kept=by_status.get("KEPT", 0),
        broken=by_status.get("BROKEN", 0),
        open=by_status.get("OPEN", 0),
        withdrawn=by_status.get("CANCELLED", 0) + by_status.get("SUPERSEDED", 0),
    )


def _amounts(session: Any, start: datetime, end: datetime) -> list[CurrencyTotals]:
    promised = session.execute(
        select(promises.c.currency, func.count(), func.sum(promises.c.amount_minor))
        .where(promises.c.recorded_at >= start, promises.c.recorded_at < end)
        .group_by(promises.c.currency)
    ).all()
    collected = session.execute(
        select(payments.c.currency, func.count(), func.sum(payments.c.amount_minor))
        .where(payments.c.received_at >= start, payments.c.received_at < end)
        .group_by(payments.c.currency)
    ).all()
    totals: dict[str, dict[str, int]] = {}
    for currency, count, amount in promised:
        totals.setdefault(currency, {}).update(
            promises_recorded=int(count), promised_minor=int(amount or 0)
        )
    for currency, count, amount in collected:
        totals.setdefault(currency, {}).update(
            payments_received=int(count), collected_minor=int(amount or 0)
        )
    return [CurrencyTotals(currency, **values) for currency, values in sorted(totals.items())]


def _contacts(session: Any, start: datetime, end: datetime) -> list[ChannelContacts]:
    reached = and_(contacts.c.direction == "OUTBOUND", contacts.c.party_reached == "DEBTOR")
    query = (
        select(
            contacts.c.channel,
            func.sum(_flag(contacts.c.direction == "OUTBOUND")),
            func.sum(_flag(reached)),
            func.sum(_flag(contacts.c.direction == "INBOUND")),
        )
        .where(contacts.c.occurred_at >= start, contacts.c.occurred_at < end)
        .group_by(contacts.c.channel)
        .order_by(contacts.c.channel)
    )
    return [
        ChannelContacts(channel, int(attempts or 0), int(right or 0), int(inbound or 0))
        for channel, attempts, right, inbound in session.execute(query)
    ]


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)
