"""An auditor's export of one case: every event as written (each line of the JSONL form can
be re-hashed on its own), the promises and their outcomes, and the chain's verification.
The HTML form is rendered from the same data by audit_html."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from casebook_case.access_log import Reader
from casebook_case.application import CaseApplication, parse_case_id
from casebook_case.domain.canonical import canonical, canonical_json
from casebook_case.domain.case import Case
from casebook_case.domain.chain import ChainReport, verify_chain
from casebook_case.domain.errors import NotFound


def event_type_of(topic: str) -> str:
    """`casebook_case.domain.case:Case.PromiseRecorded` -> `PromiseRecorded`."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ExportedEvent:
    document: dict[str, Any]  # the sealed document, as canonical JSON values
    hash: str  # as stored

    @property
    def type(self) -> str:
        return event_type_of(self.document["topic"])

    def line(self) -> str:
        """One JSONL line: the sealed document plus its hash. SHA-256 of the canonical JSON
        of the line without "hash" gives "hash" back."""
        return canonical_json({**self.document, "hash": self.hash})


@dataclass(frozen=True)
class PromiseOutcome:
    promise_id: str
    amount_minor: int
    due_time: datetime
    status: str
    paid_minor: int
    status_reason: str


@dataclass(frozen=True)
class CaseExport:
    case_id: str
    account_id: str
    currency: str
    stage: str
    balance_minor: int
    closed: bool
    exported_at: datetime
    exported_by: str
    events: list[ExportedEvent]
    verification: ChainReport
    promises: list[PromiseOutcome] = field(default_factory=list)
    version: int = 0  # of the case the summary shows; 0 when it could not be made

    def jsonl(self) -> str:
        return "".join(event.line() + "\n" for event in self.events)


def build_export(app: CaseApplication, case_id: str, actor: str, fmt: str) -> CaseExport:
    """Reads the case for an export; the read is recorded in the access log.

    The summary and the timeline are of the same version. A case whose stored events no
    longer replay (rows removed or forged) is still exported, timeline and verdict first:
    that is when an auditor needs the export most."""
    uuid = parse_case_id(case_id)
    now = app.clock.now()
    try:
        export: CaseExport = app.get_case(
            case_id,
            show=functools.partial(_summary, str(uuid), actor),
            reader=Reader(actor, "export", ""),
            detail=f"format={fmt}",
        )
    except NotFound:
        raise
    except Exception:  # the stored events no longer make a case
        export = CaseExport(
            case_id=str(uuid),
            account_id="(the stored events do not replay)",
            currency="",
            stage="",
            balance_minor=0,
            closed=False,
            exported_at=now,
            exported_by=actor,
            events=[],
            verification=ChainReport(False, 0, ""),
        )
    stored = list(app.ledger.stored_events(uuid))
    if export.version:  # an event written since the summary was made is left to the next export
        stored = [e for e in stored if e.version <= export.version]
    if not stored:
        raise NotFound("case", case_id)
    events = [ExportedEvent(canonical(e.document()), _text(e.fields.get("hash"))) for e in stored]
    return replace(export, events=events, verification=verify_chain(stored))


def _summary(case_id: str, actor: str, case: Case, at: datetime) -> CaseExport:
    """The case as it stands, made under the case's lock."""
    return CaseExport(
        case_id=case_id,
        account_id=case.account_id,
        currency=case.currency,
        stage=str(case.stage_at(at)),
        balance_minor=case.balance_minor,
        closed=case.is_closed,
        exported_at=at,
        exported_by=actor,
        events=[],
        verification=ChainReport(False, 0, ""),
        promises=[
            PromiseOutcome(
                p.promise_id,
                p.amount_minor,
                p.due_time,
                str(p.status),
                p.paid_minor,
                p.status_reason,
            )
            for p in case.promises.values()
        ],
        version=case.version,
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def jsonl_line_verifies(line: str) -> bool:
    """What an auditor can do with any JSONL line, with nothing but SHA-256."""
    record = json.loads(line)
    claimed = record.pop("hash")
    return hashlib.sha256(canonical_json(record).encode()).hexdigest() == claimed
