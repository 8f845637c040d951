"""Follows the event log into the projection tables, one batch per transaction.

Each batch moves the tracked position from where it was read to the batch's end with a
compare-and-set in the same transaction as its rows: when two replicas (or a rebuild) race
for the same batch, the second finds the position moved, rolls back and reads again, so no
event is ever applied twice or skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from eventsourcing.persistence import OperationalError
from sqlalchemy import bindparam, insert, select, update

from casebook_case.application import CaseApplication
from casebook_case.domain.values import PromiseStatus
from casebook_case.projections.tables import (
    STAGE_RANK,
    cases,
    contacts,
    create_tables,
    empty_tables,
    ensure_position_row,
    holds,
    payments,
    position,
    promises,
)
from casebook_case.wakeup import LogPoller
from casebook_common.timestamps import utc

log = structlog.get_logger("casebook.projections")

NAME = "cases"  # the projector's row in casebook_proj_position


@dataclass(frozen=True)
class BatchOutcome:
    applied: int  # events this call applied
    position: int  # where the projection stands afterwards
    more: bool  # a full batch was applied or another projector moved first: go again


class _Moved(Exception):
    """Someone else applied this batch first."""


class Projector:
    """The synchronous core, shared by the server's live projector and the CLI rebuild."""

    def __init__(self, app: CaseApplication, batch_size: int = 200) -> None:
        self.app = app
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.batch_size = batch_size

    def ensure_tables(self) -> None:
        with self.datastore.transaction(commit=True) as session:
            create_tables(session)
            ensure_position_row(session, NAME)

    def position(self) -> int:
        with self.datastore.transaction(commit=False) as session:
            value = session.execute(
                select(position.c.position).where(position.c.projector == NAME)
            ).scalar()
        return int(value or 0)

    def run_batch(self) -> BatchOutcome:
        start = self.position()
        # The head is read before the log: every case event up to it is committed (the store
        # commits positions in order), so a short page means the projection may move to the
        # head, past records that are not case events.
        head = self.app.head_position()
        if head <= start:
            return BatchOutcome(0, start, False)  # nothing new: the idle poll stops here
        events = self.app.read_log(start, self.batch_size)
        full = len(events) == self.batch_size
        end = events[-1][0] if events else start
        if not full:
            end = max(end, head)
        if end <= start:
            return BatchOutcome(0, start, False)
        try:
            with self.datastore.transaction(commit=True) as session:
                moved = session.execute(
                    update(position)
                    .where(position.c.projector == NAME, position.c.position == start)
                    .values(position=end)
                ).rowcount
                if moved != 1:
                    raise _Moved
                batch = _Batch(session)
                batch.load(event for _, event in events)
                for event_position, event in events:
                    batch.apply(event_position, event)
                batch.flush()
        except _Moved:
            return BatchOutcome(0, self.position(), True)
        return BatchOutcome(len(events), end, full)

    def catch_up(self, progress: Callable[[BatchOutcome], None] | None = None) -> int:
        """Apply everything up to the head of the log; returns the position reached."""
        while True:
            outcome = self.run_batch()
            if progress is not None:
                progress(outcome)
            if not outcome.more:
                return outcome.position

    def reset(self) -> None:
        """Every projection row gone and the position back to 0, in one transaction."""
        with self.datastore.transaction(commit=True) as session:
            empty_tables(session, NAME)


class LiveProjector(LogPoller):
    """Runs the projector inside the server: after this process's commits (gathered for a
    moment, so a busy server projects a batch per interval, not an event per commit) and
    polling for other replicas' (like api/follow.py's LogWatcher)."""

    def __init__(
        self,
        app: CaseApplication,
        poll_interval: float = 0.2,
        batch_size: int = 200,
        gather: float = 0.05,
    ) -> None:
        super().__init__(app, poll_interval, gather)
        self.core = Projector(app, batch_size)
        self.position = 0
        self._changed = asyncio.Condition()

    async def prepare(self) -> None:
        await asyncio.to_thread(self.core.ensure_tables)
        self.position = await asyncio.to_thread(self.core.position)

    async def look(self) -> bool:
        try:
            outcome = await asyncio.to_thread(self.core.run_batch)
        except OperationalError as error:  # the store is down: again at the next poll
            log.warning("projection_failed", error_type=type(error).__name__)
            return False
        except Exception as error:  # a bug: the worklists stall here, say why
            log.error("projection_failed", error_type=type(error).__name__, exc_info=error)
            return False
        if outcome.position != self.position:
            async with self._changed:
                self.position = outcome.position
                self._changed.notify_all()
        return outcome.more

    async def wait_for(self, wanted: int, timeout: float) -> bool:
        """Whether the projection reaches `wanted` within `timeout` seconds."""
        if self.position >= wanted:
            return True
        self._wakeup.wake()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.position >= wanted)
        return self.position >= wanted


# ------------------------------------------------------------------ events -> rows
def _local_day(instant: datetime, zone: str) -> int:
    return instant.astimezone(ZoneInfo(zone)).date().toordinal()


def _instalments(event: Any) -> list[tuple[int, datetime]]:
    return [(i.amount_minor, utc(i.due_time)) for i in event.instalments]  # type: ignore[misc]


def _first_shortfall(schedule: str, paid_minor: int) -> datetime | None:
    """Due time of the first instalment whose cumulative amount is not covered (as
    PromiseState.first_shortfall_due_time)."""
    cumulative = 0
    for amount, due in json.loads(schedule):
        cumulative += amount
        if paid_minor < cumulative:
            return utc(datetime.fromisoformat(due))
    return None


class _Batch:
    """The rows one batch touches, loaded once, changed in memory event by event, written
    back at the end: the same rows as applying the events one at a time."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.cases: dict[str, dict[str, Any]] = {}
        self.promises: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, dict[str, Any]] = {}
        self.new: dict[str, set[str]] = {"cases": set(), "promises": set(), "holds": set()}
        self.dirty: dict[str, set[str]] = {"cases": set(), "promises": set(), "holds": set()}
        self.contacts: list[dict[str, Any]] = []
        self.payments: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- loading
    def load(self, events: Iterable[Any]) -> None:
        case_ids: set[str] = set()
        promise_ids: set[str] = set()
        hold_ids: set[str] = set()
        for event in events:
            case_ids.add(str(event.originator_id))
            name = type(event).__name__
            if name in _PROMISE_ENDINGS:
                promise_ids.add(event.promise_id)
            elif name == "PaymentRecorded":
                promise_ids.update(a["promise_id"] for a in event.allocations)
            elif name == "HoldReleased":
                hold_ids.add(event.hold_id)
        self._load(cases, cases.c.case_id, case_ids, self.cases)
        self._load(promises, promises.c.promise_id, promise_ids, self.promises)
        self._load(holds, holds.c.hold_id, hold_ids, self.holds)

    def _load(self, table: Any, key: Any, ids: set[str], into: dict[str, dict[str, Any]]) -> None:
        wanted = sorted(ids)
        for start in range(0, len(wanted), 500):
            query = select(table).where(key.in_(wanted[start : start + 500]))
            for row in self.session.execute(query):
                values = {
                    k: utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()
                }
                into[values[key.name]] = values

    # ---------------------------------------------------------------- applying
    def apply(self, event_position: int, event: Any) -> None:
        name = type(event).__name__
        case_id = str(event.originator_id)
        if name == "CaseOpened":
            self._opened(case_id, event)
        case = self.cases.get(case_id)
        if case is None:
            log.warning("projection_case_missing", case_id=case_id, event=name)
            return
        case["version"] = event.originator_version
        case["updated_at"] = utc(event.timestamp)
        case["position"] = event_position
        self.dirty["cases"].add(case_id)
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, case, event)

    def _opened(self, case_id: str, event: Any) -> None:
        zone = event.debtor["time_zone"]
        opened_at = utc(event.occurred_at)
        assert opened_at is not None
        self.cases[case_id] = {
            "case_id": case_id,
            "profile": event.profile,
            "currency": event.currency,
            "time_zone": zone,
            "assignee": "",
            "overdue_amount_minor": event.overdue_amount_minor,
            "balance_minor": event.overdue_amount_minor,
            "dpd_zero_day": _local_day(opened_at, zone) - event.days_past_due,
            "paid_off_at": None,
            "closed_at": None,
            "stopped_at": None,
            "stopped_day": None,
            "escalated_rank": 0,
            "close_reason": "",
            "open_disputes": 0,
            "ceased_channels": "",
            "latest_promise_id": "",
            "promise_status": "NONE",
            "opened_at": opened_at,
            "updated_at": utc(event.timestamp),
            "version": 0,
            "position": 0,
        }
        self.new["cases"].add(case_id)

    def _stop_dpd(self, case: dict[str, Any]) -> None:
        stops = [t for t in (case["closed_at"], case["paid_off_at"]) if t is not None]
        if stops:
            case["stopped_at"] = min(stops)
            case["stopped_day"] = _local_day(case["stopped_at"], case["time_zone"])

    def _balance(self, case: dict[str, Any], event: Any) -> None:
        case["balance_minor"] = event.balance_after_minor
        if case["balance_minor"] == 0 and case["paid_off_at"] is None:
            case["paid_off_at"] = utc(event.occurred_at)
            self._stop_dpd(case)

    def _promise(self, promise_id: str) -> dict[str, Any] | None:
        promise = self.promises.get(promise_id)
        if promise is not None:
            self.dirty["promises"].add(promise_id)
        return promise

    def _promise_recorded(self, case: dict[str, Any], event: Any) -> None:
        schedule = _instalments(event)
        due_time = utc(event.due_time)
        self.promises[event.promise_id] = {
            "promise_id": event.promise_id,
            "case_id": case["case_id"],
            "currency": case["currency"],
            "amount_minor": event.amount_minor,
            "paid_minor": 0,
            "recorded_at": utc(event.timestamp),
            "due_time": due_time,
            "next_due_at": schedule[0][1] if schedule else due_time,
            "falls_due_at": due_time,
            "status": PromiseStatus.OPEN.value,
            "status_at": None,
            "instalments": json.dumps([[a, d.isoformat()] for a, d in schedule]),
        }
        self.new["promises"].add(event.promise_id)
        case["latest_promise_id"] = event.promise_id
        case["promise_status"] = PromiseStatus.OPEN.value

    def _promise_ended(self, case: dict[str, Any], event: Any) -> None:
        status = _PROMISE_ENDINGS[type(event).__name__]
        promise = self._promise(event.promise_id)
        if promise is not None:
            promise["status"] = status
            promise["status_at"] = utc(event.occurred_at)
            promise["next_due_at"] = None
            if status == PromiseStatus.BROKEN:
                promise["falls_due_at"] = utc(event.missed_due_time)
        if case["latest_promise_id"] == event.promise_id:
            case["promise_status"] = status

    def _payment_recorded(self, case: dict[str, Any], event: Any) -> None:
        self.payments.append(
            {
                "payment_id": event.payment_id,
                "case_id": case["case_id"],
                "currency": event.currency,
                "amount_minor": event.amount_minor,
                "overpayment_minor": event.overpayment_minor,
                "received_at": utc(event.occurred_at),
            }
        )
        for allocation in event.allocations:
            promise = self._promise(allocation["promise_id"])
            if promise is None:
                continue
            promise["paid_minor"] += allocation["amount_minor"]
            if promise["status"] == PromiseStatus.OPEN:
                promise["next_due_at"] = _first_shortfall(
                    promise["instalments"], promise["paid_minor"]
                )
        self._balance(case, event)

    def _contact_logged(self, case: dict[str, Any], event: Any) -> None:
        self.contacts.append(
            {
                "case_id": case["case_id"],
                "version": event.originator_version,
                "occurred_at": utc(event.occurred_at),
                "channel": event.channel,
                "direction": event.direction,
                "outcome": event.outcome,
                "party_reached": event.party_reached,
            }
        )

    def _hold_placed(self, case: dict[str, Any], event: Any) -> None:
        until = utc(event.until)
        self.holds[event.hold_id] = {
            "hold_id": event.hold_id,
            "case_id": case["case_id"],
            "kind": event.kind,
            "since": utc(event.occurred_at),
            "until": until,
            "released_at": None,
            "ends_at": until,
        }
        self.new["holds"].add(event.hold_id)

    def _hold_released(self, case: dict[str, Any], event: Any) -> None:
        hold = self.holds.get(event.hold_id)
        if hold is None:
            return
        hold["released_at"] = utc(event.occurred_at)
        hold["ends_at"] = min(t for t in (hold["until"], hold["released_at"]) if t is not None)
        self.dirty["holds"].add(event.hold_id)

    def _ceased(self, case: dict[str, Any], event: Any) -> None:
        channels = {c for c in case["ceased_channels"].split(",") if c} | {event.channel}
        case["ceased_channels"] = "," + ",".join(sorted(channels)) + ","

    def _closed(self, case: dict[str, Any], event: Any) -> None:
        case["closed_at"] = utc(event.occurred_at)
        case["close_reason"] = event.reason
        self._stop_dpd(case)

    def _escalated(self, case: dict[str, Any], event: Any) -> None:
        case["escalated_rank"] = STAGE_RANK[event.to_stage]

    def _dispute_raised(self, case: dict[str, Any], event: Any) -> None:
        case["open_disputes"] += 1

    def _dispute_resolved(self, case: dict[str, Any], event: Any) -> None:
        case["open_disputes"] = max(case["open_disputes"] - 1, 0)

    def _assigned(self, case: dict[str, Any], event: Any) -> None:
        case["assignee"] = event.assignee

    # ----------------------------------------------------------------- writing
    def flush(self) -> None:
        for name, table, rows, key in (
            ("cases", cases, self.cases, "case_id"),
            ("promises", promises, self.promises, "promise_id"),
            ("holds", holds, self.holds, "hold_id"),
        ):
            added = [rows[k] for k in sorted(self.new[name])]
            if added:
                self.session.execute(insert(table), added)
            changed = [rows[k] for k in sorted(self.dirty[name] - self.new[name])]
            if changed:
                self.session.execute(_update_by_key(table, key), [_bound(r) for r in changed])
        if self.contacts:
            self.session.execute(insert(contacts), self.contacts)
        if self.payments:
            self.session.execute(insert(payments), self.payments)


def _update_by_key(table: Any, key: str) -> Any:
    return (
        update(table)
        .where(table.c[key] == bindparam("k_" + key))
        .values({c.name: bindparam("v_" + c.name) for c in table.columns if c.name != key})
    )


def _bound(row: dict[str, Any]) -> dict[str, Any]:
    return {"k_" + k: v for k, v in row.items()} | {"v_" + k: v for k, v in row.items()}


_PROMISE_ENDINGS = {
    "PromiseKept": PromiseStatus.KEPT.value,
    "PromiseBroken": PromiseStatus.BROKEN.value,
    "PromiseCancelled": PromiseStatus.CANCELLED.value,
    "PromiseSuperseded": PromiseStatus.SUPERSEDED.value,
}

# What each event type changes beyond the case's version and times; types not named here
# (letters, arrangements, refused contacts) change nothing else the read side keeps.
_HANDLERS: dict[str, Callable[[_Batch, dict[str, Any], Any], None]] = {
    "PromiseRecorded": _Batch._promise_recorded,
    **dict.fromkeys(_PROMISE_ENDINGS, _Batch._promise_ended),
    "PaymentRecorded": _Batch._payment_recorded,
    "BalanceWaived": _Batch._balance,
    "ContactLogged": _Batch._contact_logged,
    "HoldPlaced": _Batch._hold_placed,
    "HoldReleased": _Batch._hold_released,
    "CeaseRequestRecorded": _Batch._ceased,
    "CaseClosed": _Batch._closed,
    "Escalated": _Batch._escalated,
    "DisputeRaised": _Batch._dispute_raised,
    "DisputeResolved": _Batch._dispute_resolved,
    "CaseAssigned": _Batch._assigned,
}
