"""Bulk payment import: many RecordPayment commands written in one transaction per batch.

Each item means exactly what a RecordPayment call with the same fields means: the same
validation, the same idempotency on payment_reference (unique across all cases), the same
events. Only the transactions differ: a batch's events, on every case it touches, and its
payment-reference claims are saved together. When that save conflicts (another writer got
to one of the cases or references first) the batch is run again item by item through
CaseApplication.execute, so one conflict costs one item, never the batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy import func, select

from casebook_case.application import (
    CaseApplication,
    parse_case_id,
    payment_reference_key,
    reference_on_another_case,
)
from casebook_case.commands import RecordPayment
from casebook_case.domain.case import Case, CommandMeta
from casebook_case.domain.claims import UniqueKey, derived_id
from casebook_case.domain.errors import DomainError, NotFound

# Items per transaction. Larger batches gain little once the per-transaction cost is spread
# (SQLite commit, PostgreSQL table lock) and hold the case locks longer: a batch holds the
# locks of every case it touches while it runs, so ordinary commands on those cases wait
# for at most one batch (tens of milliseconds).
BATCH_SIZE = 500
# The response lists the first errors only (every failure is counted): a file that is
# wrong throughout should not produce a response larger than the file.
MAX_ERRORS_RETURNED = 1_000


class Recorded(Enum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # already recorded under this payment_reference: nothing written


Outcome = Recorded | DomainError


class _Tainted(Exception):
    """A command failed after changing the case: the batch cannot be trusted as a whole."""


@dataclass
class ImportTally:
    """Counts over a whole import, and its first errors."""

    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[tuple[int, str, DomainError]] = field(default_factory=list)  # index, ref

    def add(
        self, first_index: int, commands: Sequence[RecordPayment], outcomes: list[Outcome]
    ) -> None:
        for offset, (command, outcome) in enumerate(zip(commands, outcomes, strict=True)):
            self.received += 1
            if outcome is Recorded.RECORDED:
                self.recorded += 1
            elif outcome is Recorded.DUPLICATE:
                self.duplicates += 1
            else:
                self.failed += 1
                if len(self.errors) < MAX_ERRORS_RETURNED:
                    self.errors.append((first_index + offset, command.payment_reference, outcome))


def record_payments(
    app: CaseApplication, commands: Sequence[RecordPayment], actor: str
) -> list[Outcome]:
    """One outcome per command, in order. Failures of the store (not of an item) raise:
    what earlier batches recorded stays recorded, and a re-run skips it as duplicates."""
    outcomes: list[Outcome | None] = [None] * len(commands)
    now = app.clock.now()
    runnable: list[tuple[int, UUID]] = []
    for index, command in enumerate(commands):
        try:
            command.validate(now)
            runnable.append((index, parse_case_id(command.case_id)))
        except DomainError as error:
            outcomes[index] = error
    if runnable:
        try:
            _record_batch(app, commands, runnable, actor, outcomes)
        except (IntegrityError, _Tainted):
            for index, _ in runnable:
                outcomes[index] = _record_one(app, commands[index], actor)
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def _record_batch(
    app: CaseApplication,
    commands: Sequence[RecordPayment],
    runnable: list[tuple[int, UUID]],
    actor: str,
    outcomes: list[Outcome | None],
) -> None:
    """Run the batch on the cases under their locks, then save it in one transaction.
    Raises IntegrityError or _Tainted (nothing saved, cases evicted) for a retry one by one."""
    locks = {id(lock): lock for lock in (app._lock_for(case_id) for _, case_id in runnable)}
    cases: dict[UUID, Case | None] = {}
    claims: dict[str, UniqueKey] = {}
    with contextlib.ExitStack() as held:
        # Always in the same order, so two imports never wait for each other in a circle
        # (single commands hold one lock at a time).
        for _, lock in sorted(locks.items()):
            held.enter_context(lock)
        try:
            stored_claims = _stored_claims(app, [commands[i] for i, _ in runnable])
            cases.update(_cached_and_current(app, {case_id for _, case_id in runnable}))
            for index, case_id in runnable:
                if case_id not in cases:
                    cases[case_id] = app._find(case_id)
                case = cases[case_id]
                if case is None:
                    outcomes[index] = NotFound("case", str(case_id))
                    continue
                outcomes[index] = _apply(app, case, commands[index], actor, stored_claims, claims)
            touched = [case for case in cases.values() if case is not None and case.pending_events]
            if touched:
                app.save(*touched, *claims.values())
        except BaseException:
            for case_id in cases:
                app._evict(case_id)  # cached cases may hold events that were not saved
            raise


def _apply(
    app: CaseApplication,
    case: Case,
    command: RecordPayment,
    actor: str,
    stored_claims: set[str],
    claims: dict[str, UniqueKey],
) -> Outcome:
    """What execute does for one RecordPayment, minus the save."""
    pending = len(case.pending_events)
    meta = CommandMeta(actor, app.clock.now(), command.request_id, command.fingerprint())
    try:
        if app._previous_payment(case, command) is not None:
            return Recorded.DUPLICATE
        key = payment_reference_key(command.payment_reference)
        if key in stored_claims:
            (claim,) = app._claims(case, command, meta)  # raises when another case holds it
        elif key in claims:  # claimed earlier in this batch, by another case
            raise reference_on_another_case()
        else:
            claim = UniqueKey.claim(key, str(case.id), meta.now)
        command.run(case, meta, app.policy)
    except DomainError as error:
        if len(case.pending_events) != pending:
            raise _Tainted from error
        return error
    claims[key] = claim
    return Recorded.RECORDED


def _record_one(app: CaseApplication, command: RecordPayment, actor: str) -> Outcome:
    try:
        result = app.execute(command, actor)
    except DomainError as error:
        return error
    return Recorded.DUPLICATE if result.replayed else Recorded.RECORDED


def _cached_and_current(app: CaseApplication, case_ids: set[UUID]) -> dict[UUID, Case]:
    """The cached cases that no other writer has changed since: one query for the batch
    instead of the look-up for newer events that the repository makes for each case (the
    rest go through it). Called under the cases' locks, so nothing in this process changes
    them meanwhile; another replica that writes one after this still makes the save fail."""
    cache = app.repository.cache
    if cache is None:
        return {}
    cached: dict[UUID, Case] = {}
    for case_id in case_ids:
        with contextlib.suppress(KeyError):
            case = cache.get(case_id)
            if isinstance(case, Case):
                cached[case_id] = case
    if not cached:
        return {}
    record = app.recorder.events_record_cls  # type: ignore[attr-defined]
    query = (
        select(record.originator_id, func.max(record.originator_version))
        .where(record.originator_id.in_(list(cached)))
        .group_by(record.originator_id)
    )
    with app.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        stored = {UUID(str(case_id)): version for case_id, version in session.execute(query)}
    return {
        case_id: case for case_id, case in cached.items() if stored.get(case_id) == case.version
    }


def _stored_claims(app: CaseApplication, commands: list[RecordPayment]) -> set[str]:
    """Which of these references are claimed in the store: one query for the batch rather
    than one look-up per item (almost every reference in a payment file is new)."""
    keys = {
        derived_id("unique-key", payment_reference_key(c.payment_reference)): (
            payment_reference_key(c.payment_reference)
        )
        for c in commands
    }
    record = app.recorder.events_record_cls  # type: ignore[attr-defined]
    query = select(record.originator_id).where(
        record.originator_id.in_(list(keys)), record.originator_version == 1
    )
    with app.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        found = {UUID(str(row[0])) for row in session.execute(query)}
    return {keys[claim_id] for claim_id in found}
