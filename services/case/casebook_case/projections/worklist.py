"""ListCases: worklists from the projection tables, with keyset pages.

Days past due and stage depend on the time they are asked at; they are computed in SQL
from what the cases table keeps (the local day DPD was 0 on, where it stopped, the stage
reached by escalation) at the instant of the first page. That instant travels in the page
token, so one walk through the pages sees one consistent ordering, and a case whose sort
key does not change appears exactly once however the portfolio changes meanwhile.

`contactable_now` is decided by the case's conduct rules (they depend on the hour, rest
days, recent contacts): SQL keeps out what the stored facts already forbid (closed, ceased
on that channel, open dispute, active hold), then each remaining candidate is checked with
the case application until the page is full.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, literal, not_, or_, select, true

from casebook_case.access_log import Reader
from casebook_case.application import CaseApplication, Show
from casebook_case.domain.errors import DomainError, FieldViolation, InvalidArgument
from casebook_case.projections.filters import (
    Comparison,
    ContactableNow,
    Filter,
    Junction,
    Node,
    Not,
    parse_filter,
)
from casebook_case.projections.tables import STAGE_RANK, cases, holds, promises
from casebook_common.timestamps import utc

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TOKEN_LENGTH = 2048
TOKEN_VERSION = 1
# A token's instant is one of this service's clock readings: anything else is forged.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
# Candidates checked against the conduct rules for one page at most: a page may come back
# short (with a next_page_token) rather than keep a caller waiting.
CONTACTABLE_BUDGET = 2000


class ProjectionBehind(DomainError):
    """The worklist has not yet caught up with the position asked for (UNAVAILABLE)."""

    def __init__(self, wanted: int, reached: int) -> None:
        self.wanted = wanted
        self.reached = reached
        super().__init__(
            f"the worklist includes the log up to position {reached}, not yet {wanted}; retry"
        )


@dataclass(frozen=True)
class ListQuery:
    filter: str = ""
    order_by: str = ""
    page_size: int = 0
    page_token: str = ""
    min_position: int = 0


@dataclass(frozen=True)
class OrderKey:
    name: str
    descending: bool

    def canonical(self) -> str:
        return self.name + (" desc" if self.descending else "")


ORDER_KEYS = ("dpd", "balance", "opened_at", "updated_at", "case_id")
ORDER_ALIASES = {"days_past_due": "dpd", "balance_minor": "balance"}
TIME_KEYS = ("opened_at", "updated_at")


@dataclass(frozen=True)
class Plan:
    """A validated ListCases request."""

    filter: Filter
    order: tuple[OrderKey, ...]  # ends with case_id
    page_size: int
    at: datetime  # the instant DPD, stage and contactability are evaluated at
    after: tuple[Any, ...] | None  # keyset position of the previous page's last case
    fingerprint: str


@dataclass(frozen=True)
class Page:
    cases: list[Any]
    next_page_token: str


# ---------------------------------------------------------------- validation
def parse_order_by(text: str) -> tuple[OrderKey, ...]:
    keys: list[OrderKey] = []
    if len(text) > 200:
        raise InvalidArgument.single("order_by", "is longer than 200 characters")
    for part in text.split(",") if text.strip() else []:
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise InvalidArgument.single(
                "order_by", f"expected `key` or `key desc`, not {part.strip()!r}"
            )
        name = ORDER_ALIASES.get(words[0], words[0])
        if name not in ORDER_KEYS:
            raise InvalidArgument.single(
                "order_by", f"unknown key {words[0]!r}; keys are: {', '.join(ORDER_KEYS)}"
            )
        if any(k.name == name for k in keys):
            raise InvalidArgument.single("order_by", f"{name} is named twice")
        if keys and keys[-1].name == "case_id":
            raise InvalidArgument.single("order_by", "case_id is unique: it can only come last")
        keys.append(OrderKey(name, len(words) == 2 and words[1] == "desc"))
    if not keys or keys[-1].name != "case_id":
        keys.append(OrderKey("case_id", False))  # the tie-breaker: every key is unique
    return tuple(keys)


def plan(query: ListQuery, now: datetime) -> Plan:
    violations: list[FieldViolation] = []
    parsed: Filter | None = None
    order: tuple[OrderKey, ...] = ()
    for name, parse in (("filter", parse_filter), ("order_by", parse_order_by)):
        try:
            value = parse(getattr(query, name))
        except InvalidArgument as error:
            violations.extend(error.violations)
            continue
        if name == "filter":
            parsed = value  # type: ignore[assignment]
        else:
            order = value  # type: ignore[assignment]
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if query.min_position < 0:
        violations.append(FieldViolation("min_position", "must not be negative"))
    if violations:
        raise InvalidArgument(violations)
    assert parsed is not None
    fingerprint = _fingerprint(parsed, order)
    at, after = now, None
    if query.page_token:
        at, after = _decode_token(query.page_token, fingerprint, order)
    page_size = min(query.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return Plan(parsed, order, page_size, at, after, fingerprint)


def _fingerprint(parsed: Filter, order: tuple[OrderKey, ...]) -> str:
    text = parsed.canonical() + "\n" + ",".join(k.canonical() for k in order)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------- page tokens
def encode_token(fingerprint: str, at: datetime, after: tuple[Any, ...]) -> str:
    document = {"v": TOKEN_VERSION, "f": fingerprint, "at": at.isoformat(), "after": after}
    raw = json.dumps(document, separators=(",", ":"), default=_json_value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()  # type: ignore[union-attr]
    raise TypeError(type(value).__name__)


def _bad_token(description: str) -> InvalidArgument:
    return InvalidArgument.single("page_token", description)


def _decode_token(
    token: str, fingerprint: str, order: tuple[OrderKey, ...]
) -> tuple[datetime, tuple[Any, ...]]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise _bad_token("is not a page token of this service")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_token("is not a page token of this service") from None
    if not isinstance(document, dict) or document.get("v") != TOKEN_VERSION:
        raise _bad_token("is not a page token of this service")
    if document.get("f") != fingerprint:
        raise _bad_token(
            "was made for another filter or order_by: send the same ones as for the first page"
        )
    try:
        at = datetime.fromisoformat(document["at"])
        values = document["after"]
        if at.tzinfo is None or not isinstance(values, list) or len(values) != len(order):
            raise ValueError
        if not EARLIEST <= at <= LATEST:  # only this service's own clock readings
            raise ValueError
        after = tuple(_key_value(k, v) for k, v in zip(order, values, strict=True))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _bad_token("is not a page token of this service") from None
    return at.astimezone(UTC), after


def _key_value(key: OrderKey, value: Any) -> Any:
    if key.name in TIME_KEYS:
        return datetime.fromisoformat(value).astimezone(UTC)
    if key.name == "case_id":
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError
        return value
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**62:
        raise ValueError
    return value


# ----------------------------------------------------------------------- SQL
class TimeView:
    """The time-dependent columns (dpd, stage) as SQL at one instant, for the zones the
    table holds. A case in a zone first seen after the zones were read is left out, as if
    it had been written after the request."""

    def __init__(self, session: Any, at: datetime) -> None:
        self.at = at
        zones = sorted(session.execute(select(cases.c.time_zone).distinct()).scalars())
        self.zones = zones
        today_by_zone = {z: at.astimezone(ZoneInfo(z)).date().toordinal() for z in zones}
        today: Any = (
            case(*((cases.c.time_zone == z, literal(d)) for z, d in today_by_zone.items()))
            if zones
            else literal(None)
        )
        stopped = and_(cases.c.stopped_at.is_not(None), cases.c.stopped_at < at)
        days = case((stopped, cases.c.stopped_day), else_=today) - cases.c.dpd_zero_day
        self.dpd: Any = case((days < 0, 0), else_=days)
        by_dpd = case((self.dpd >= 90, 3), (self.dpd >= 60, 2), else_=1)
        highest = case((cases.c.escalated_rank > by_dpd, cases.c.escalated_rank), else_=by_dpd)
        self.stage_rank: Any = case((cases.c.closed_at.is_not(None), 6), else_=highest)
        self.known_zone = cases.c.time_zone.in_(zones) if zones else literal(False)

    def key(self, name: str) -> Any:
        return {
            "dpd": self.dpd,
            "balance": cases.c.balance_minor,
            "opened_at": cases.c.opened_at,
            "updated_at": cases.c.updated_at,
            "case_id": cases.c.case_id,
        }[name]

    def condition(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Not):
            return not_(self.condition(node.item))
        if isinstance(node, Junction):
            parts = [self.condition(item) for item in node.items]
            return and_(*parts) if node.op == "AND" else or_(*parts)
        return self._comparison(node)

    def _comparison(self, c: Comparison) -> ColumnElement[bool]:
        if c.field == "open_promise_due_before":
            return exists().where(
                promises.c.case_id == cases.c.case_id,
                promises.c.status == "OPEN",
                promises.c.next_due_at < c.value,
            )
        column: Any = {
            "stage": self.stage_rank,
            "dpd": self.dpd,
            "balance": cases.c.balance_minor,
            "currency": cases.c.currency,
            "assignee": cases.c.assignee,
            "profile": cases.c.profile,
            "promise_status": cases.c.promise_status,
        }[c.field]
        value = STAGE_RANK[c.value] if c.field == "stage" else c.value
        return _OPERATORS[c.op](column, value)

    def not_blocked(self, channel: str) -> ColumnElement[bool]:
        """What the stored facts already say about contact on `channel` now: a closed case,
        a cease request on the channel, an open dispute or an active hold each forbid it."""
        active_hold = exists().where(
            holds.c.case_id == cases.c.case_id,
            holds.c.since <= self.at,
            or_(holds.c.ends_at.is_(None), holds.c.ends_at > self.at),
        )
        return and_(
            cases.c.closed_at.is_(None),
            not_(cases.c.ceased_channels.like(f"%,{channel},%")),
            cases.c.open_disputes == 0,
            not_(active_hold),
        )


_OPERATORS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _after(view: TimeView, order: tuple[OrderKey, ...], after: tuple[Any, ...]) -> Any:
    """Rows strictly after `after` in the order: (k1 > v1) OR (k1 = v1 AND k2 > v2) ..."""
    alternatives = []
    for index, key in enumerate(order):
        equal = [view.key(k.name) == v for k, v in zip(order[:index], after, strict=False)]
        column = view.key(key.name)
        beyond = column < after[index] if key.descending else column > after[index]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


# --------------------------------------------------------------------- query
class Worklist:
    def __init__(self, app: CaseApplication) -> None:
        self.app = app
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]

    def page(self, plan: Plan, show: Show, reader: Reader | None, detail: str = "") -> Page:
        contactable = plan.filter.contactable
        chosen: list[tuple[Any, ...]] = []
        cursor = plan.after
        next_after: tuple[Any, ...] | None = None
        examined = 0
        while True:
            want = plan.page_size + 1 if contactable is None else max(plan.page_size * 2, 50)
            rows = self._candidates(plan, cursor, want, contactable)
            if contactable is None:
                chosen = [row[1:] for row in rows[: plan.page_size]]
                if len(rows) > plan.page_size:
                    next_after = chosen[-1]
                break
            for index, row in enumerate(rows):
                examined += 1
                cursor = row[1:]
                if self._contactable_as_wanted(row, contactable, plan.at):
                    chosen.append(row[1:])
                if len(chosen) == plan.page_size:
                    more = index < len(rows) - 1 or len(rows) == want
                    next_after = cursor if more else None
                    break
            else:
                if len(rows) < want:
                    break  # no candidates left
                if examined >= CONTACTABLE_BUDGET:
                    next_after = cursor  # a short page; the next one goes on from here
                    break
                continue
            break
        case_ids = [row[-1] for row in chosen]
        shown = self.app.get_cases(case_ids, show=show, reader=reader, detail=detail)
        token = "" if next_after is None else encode_token(plan.fingerprint, plan.at, next_after)
        return Page(shown, token)

    def _candidates(
        self,
        plan: Plan,
        after: tuple[Any, ...] | None,
        limit: int,
        contactable: ContactableNow | None,
    ) -> list[tuple[Any, ...]]:
        """(not blocked by stored facts, *sort key values) of the next candidates."""
        with self.datastore.transaction(commit=False) as session:
            view = TimeView(session, plan.at)
            conditions = [view.known_zone]
            if plan.filter.sql is not None:
                conditions.append(view.condition(plan.filter.sql))
            if after is not None:
                conditions.append(_after(view, plan.order, after))
            free: Any = true()
            if contactable is not None:
                free = view.not_blocked(contactable.channel)
                if contactable.permitted:
                    conditions.append(free)
            keys = [view.key(k.name) for k in plan.order]
            ordering = [
                view.key(k.name).desc() if k.descending else view.key(k.name).asc()
                for k in plan.order
            ]
            query = select(free, *keys).where(*conditions).order_by(*ordering).limit(limit)
            return [
                tuple(utc(v) if isinstance(v, datetime) else v for v in row)
                for row in session.execute(query)
            ]

    def _contactable_as_wanted(
        self, row: tuple[Any, ...], contactable: ContactableNow, at: datetime
    ) -> bool:
        free, case_id = bool(row[0]), row[-1]
        if not free:  # the stored facts forbid it: no need to ask the rules
            return not contactable.permitted
        try:
            decision = self.app.check_contact(case_id, contactable.channel, at)
        except DomainError:
            return False  # the case cannot be read: leave it out
        return decision.permitted == contactable.permitted
