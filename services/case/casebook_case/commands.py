"""Commands the case service accepts: their validation and what each asks of the Case.

Each command is a plain dataclass built by the API layer. `validate` reports every bad
field at once (the caller fixes them all in one go); `run` calls the aggregate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casebook_case.compliance.profiles import get_profile, profile_ids
from casebook_case.domain.case import Case, CommandMeta
from casebook_case.domain.errors import FieldViolation, InvalidArgument, Refused
from casebook_case.domain.letters import ISSUER_PHONE, choose_template, content_sha256
from casebook_case.domain.values import (
    STAGE_LADDER,
    ArrangementKind,
    ArrangementTerms,
    Channel,
    CloseReason,
    ContactTarget,
    Direction,
    HoldKind,
    Instalment,
    LetterType,
    Outcome,
    PaymentChannel,
    Stage,
)
from casebook_case.iso4217 import CURRENCIES

MAX_ID_LENGTH = 128
MAX_NOTE_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_INSTALMENTS = 120
MAX_AMOUNT_MINOR = 10**15  # far above any card debt; guards against unit mistakes
MAX_DAYS_PAST_DUE = 3650
# How far ahead a business time may run of our clock (client clocks drift a little).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Policy:
    """Settings that shape command outcomes, from configuration."""

    approval_limit_minor: int = 50_000
    default_profile: str = "CN"
    known_profiles: frozenset[str] = frozenset(profile_ids())


class Violations:
    """Collects every bad field of a request."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field_name: str, description: str) -> None:
        self.items.append(FieldViolation(field_name, description))

    def require_id(self, field_name: str, value: str) -> None:
        if not value:
            self.add(field_name, "is required")
        else:
            self.limit_text(field_name, value, MAX_ID_LENGTH)

    def limit_text(self, field_name: str, value: str, limit: int) -> None:
        if len(value) > limit:
            self.add(field_name, f"is longer than {limit} characters")

    def positive_amount(self, field_name: str, value: int) -> None:
        if value <= 0:
            self.add(field_name, "must be greater than zero")
        elif value > MAX_AMOUNT_MINOR:
            self.add(field_name, f"must not exceed {MAX_AMOUNT_MINOR}")

    def choice(self, field_name: str, value: str, allowed: Any) -> None:
        if value not in {member.value for member in allowed}:
            self.add(field_name, "is missing or not a known value")

    def not_in_future(self, field_name: str, value: datetime | None, now: datetime) -> None:
        if value is not None and value > now + CLOCK_SKEW:
            self.add(field_name, "must not be in the future")

    def in_future(self, field_name: str, value: datetime | None, now: datetime) -> None:
        if value is None:
            self.add(field_name, "is required")
        elif value <= now:
            self.add(field_name, "must be in the future")

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def valid_time_zone(name: str) -> bool:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Command:
    """Fields every command on an existing case shares."""

    case_id: str
    request_id: str = ""
    expected_version: int = 0  # 0: no expectation

    # Fields that do not change what the command means, left out of its fingerprint.
    _NOT_FINGERPRINTED: ClassVar[frozenset[str]] = frozenset({"request_id", "expected_version"})

    def fingerprint(self) -> str:
        """A digest of what the command asks, so a reused request_id with other content
        is told apart from a genuine retry."""
        content = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in self._NOT_FINGERPRINTED
        }
        content["command"] = type(self).__name__
        encoded = json.dumps(_plain(content), sort_keys=True, default=str)
        return hashlib.sha256(encoded.encode()).hexdigest()

    def validate(self, now: datetime) -> None:
        v = Violations()
        v.require_id("case_id", self.case_id)
        v.limit_text("request_id", self.request_id, MAX_ID_LENGTH)
        if self.expected_version < 0:
            v.add("expected_version", "must not be negative")
        self.check(v, now)
        v.raise_if_any()

    def check(self, v: Violations, now: datetime) -> None:
        """Command-specific field checks."""

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str | Refused:
        """Apply the command to the case; returns the id of what it created, if anything,
        or a refusal that the case recorded (stored, then reported to the caller)."""
        raise NotImplementedError


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))
    return value


@dataclass(frozen=True)
class OpenCase(Command):
    account_id: str = ""
    debtor: dict[str, str] = field(default_factory=dict)
    profile: str = ""
    overdue_amount_minor: int = 0
    currency: str = ""
    days_past_due: int = 0
    opened_at: datetime | None = None

    def validate_open(self, now: datetime, policy: Policy) -> None:
        v = Violations()
        v.require_id("request_id", self.request_id)
        v.require_id("account_id", self.account_id)
        name = self.debtor.get("name", "")
        if not name:
            v.add("debtor.name", "is required")
        v.limit_text("debtor.name", name, MAX_NAME_LENGTH)
        phone = self.debtor.get("phone", "")
        if phone and not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
            v.add("debtor.phone", "must be an E.164 number such as +8613800138000")
        email = self.debtor.get("email", "")
        if email and ("@" not in email or len(email) > 254 or " " in email):
            v.add("debtor.email", "is not an e-mail address")
        v.limit_text("debtor.address", self.debtor.get("address", ""), 500)
        v.limit_text("debtor.id_number", self.debtor.get("id_number", ""), 64)
        if not valid_time_zone(self.debtor.get("time_zone", "")):
            v.add("debtor.time_zone", "must be an IANA time zone such as Asia/Shanghai")
        if self.profile and self.profile not in policy.known_profiles:
            v.add("profile", f"must be one of {', '.join(sorted(policy.known_profiles))}")
        v.positive_amount("overdue_amount_minor", self.overdue_amount_minor)
        if self.currency not in CURRENCIES:
            v.add("currency", "must be an ISO 4217 code such as CNY")
        if not 0 <= self.days_past_due <= MAX_DAYS_PAST_DUE:
            v.add("days_past_due", f"must be between 0 and {MAX_DAYS_PAST_DUE}")
        v.not_in_future("opened_at", self.opened_at, now)
        v.raise_if_any()


@dataclass(frozen=True)
class LogContact(Command):
    channel: str = ""
    direction: str = ""
    outcome: str = ""
    occurred_at: datetime | None = None
    agent_id: str = ""
    note: str = ""
    target: str = ContactTarget.DEBTOR
    debt_disclosed: bool = False

    def check(self, v: Violations, now: datetime) -> None:
        v.choice("channel", self.channel, Channel)
        v.choice("direction", self.direction, Direction)
        v.choice("outcome", self.outcome, Outcome)
        v.choice("target", self.target, ContactTarget)
        v.limit_text("agent_id", self.agent_id, MAX_ID_LENGTH)
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)
        v.not_in_future("occurred_at", self.occurred_at, now)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str | Refused:
        refusal = case.log_contact(
            meta,
            channel=self.channel,
            direction=self.direction,
            outcome=self.outcome,
            occurred_at=self.occurred_at or meta.now,
            agent_id=self.agent_id,
            note=self.note,
            target=self.target,
            debt_disclosed=self.debt_disclosed,
            profile=get_profile(case.profile),
        )
        return refusal or ""


def _check_instalments(
    v: Violations, field_name: str, instalments: list[Instalment], now: datetime
) -> None:
    if len(instalments) > MAX_INSTALMENTS:
        v.add(field_name, f"at most {MAX_INSTALMENTS} instalments")
        return
    previous: datetime | None = None
    for index, instalment in enumerate(instalments):
        v.positive_amount(f"{field_name}[{index}].amount_minor", instalment.amount_minor)
        v.in_future(f"{field_name}[{index}].due_time", instalment.due_time, now)
        if previous is not None and instalment.due_time <= previous:
            v.add(f"{field_name}[{index}].due_time", "must be later than the one before")
        previous = instalment.due_time


@dataclass(frozen=True)
class RecordPromise(Command):
    amount_minor: int = 0
    due_time: datetime | None = None
    payment_channel: str = ""
    instalments: list[Instalment] = field(default_factory=list)
    replaces_promise_id: str = ""
    note: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.positive_amount("amount_minor", self.amount_minor)
        v.choice("payment_channel", self.payment_channel, PaymentChannel)
        v.limit_text("replaces_promise_id", self.replaces_promise_id, MAX_ID_LENGTH)
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)
        if self.instalments:
            _check_instalments(v, "instalments", self.instalments, now)
            total = sum(i.amount_minor for i in self.instalments)
            if total != self.amount_minor:
                v.add("amount_minor", f"must equal the sum of the instalments ({total})")
            if self.due_time is not None and self.due_time != self.instalments[-1].due_time:
                v.add("due_time", "must be the last instalment's due time, or left empty")
        else:
            v.in_future("due_time", self.due_time, now)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        due_time = self.instalments[-1].due_time if self.instalments else self.due_time
        assert due_time is not None
        return case.record_promise(
            meta,
            amount_minor=self.amount_minor,
            due_time=due_time,
            payment_channel=self.payment_channel,
            instalments=list(self.instalments),
            replaces_promise_id=self.replaces_promise_id,
            note=self.note,
        )


@dataclass(frozen=True)
class RecordPayment(Command):
    amount_minor: int = 0
    currency: str = ""
    received_at: datetime | None = None
    payment_reference: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.positive_amount("amount_minor", self.amount_minor)
        if self.currency and self.currency not in CURRENCIES:
            v.add("currency", "must be an ISO 4217 code such as CNY")
        v.require_id("payment_reference", self.payment_reference)
        v.not_in_future("received_at", self.received_at, now)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        return case.record_payment(
            meta,
            payment_reference=self.payment_reference,
            amount_minor=self.amount_minor,
            currency=self.currency or case.currency,
            received_at=self.received_at or meta.now,
        )


@dataclass(frozen=True)
class MarkPromiseBroken(Command):
    promise_id: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.require_id("promise_id", self.promise_id)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.mark_promise_broken(meta, promise_id=self.promise_id)
        return self.promise_id


@dataclass(frozen=True)
class IssueLetter(Command):
    letter_type: str = ""
    template_id: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.choice("letter_type", self.letter_type, LetterType)
        v.limit_text("template_id", self.template_id, MAX_ID_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        template = choose_template(self.letter_type, self.template_id)
        text = template.render(
            {
                "name": case.debtor.get("name", ""),
                "account_id": case.account_id,
                "balance": case.balance_minor,
                "currency": case.currency,
                "days_past_due": case.days_past_due_at(meta.now),
                "issuer_phone": ISSUER_PHONE,
            }
        )
        case.issue_letter(
            meta,
            letter_type=self.letter_type,
            template_id=template.template_id,
            template_version=template.version,
            content_sha256=content_sha256(text),
        )
        return ""


@dataclass(frozen=True)
class Escalate(Command):
    to_stage: str = ""
    reason: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        if self.to_stage not in {s.value for s in STAGE_LADDER} | {Stage.CLOSED.value}:
            v.add("to_stage", "is missing or not a known stage")
        if not self.reason:
            v.add("reason", "is required")
        v.limit_text("reason", self.reason, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.escalate(
            meta, to_stage=self.to_stage, reason=self.reason, profile=get_profile(case.profile)
        )
        return ""


@dataclass(frozen=True)
class RaiseDispute(Command):
    reason: str = ""
    received_at: datetime | None = None

    def check(self, v: Violations, now: datetime) -> None:
        if not self.reason:
            v.add("reason", "is required")
        v.limit_text("reason", self.reason, MAX_NOTE_LENGTH)
        v.not_in_future("received_at", self.received_at, now)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        return case.raise_dispute(
            meta, reason=self.reason, received_at=self.received_at or meta.now
        )


@dataclass(frozen=True)
class ResolveDispute(Command):
    dispute_id: str = ""
    resolution: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.require_id("dispute_id", self.dispute_id)
        if not self.resolution:
            v.add("resolution", "is required")
        v.limit_text("resolution", self.resolution, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.resolve_dispute(meta, dispute_id=self.dispute_id, resolution=self.resolution)
        return self.dispute_id


@dataclass(frozen=True)
class RecordCeaseRequest(Command):
    channel: str = ""
    received_at: datetime | None = None
    note: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.choice("channel", self.channel, Channel)
        v.not_in_future("received_at", self.received_at, now)
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.record_cease_request(
            meta, channel=self.channel, received_at=self.received_at or meta.now, note=self.note
        )
        return ""


@dataclass(frozen=True)
class ProposeArrangement(Command):
    terms: ArrangementTerms = field(default_factory=lambda: ArrangementTerms(kind=""))

    def check(self, v: Violations, now: datetime) -> None:
        terms = self.terms
        v.choice("kind", terms.kind, ArrangementKind)
        v.limit_text("note", terms.note, MAX_NOTE_LENGTH)
        if terms.payment_channel:
            v.choice("payment_channel", terms.payment_channel, PaymentChannel)
        if terms.kind == ArrangementKind.INSTALMENT_PLAN:
            if len(terms.instalments) < 2:
                v.add("instalments", "an instalment plan needs at least two instalments")
            _check_instalments(v, "instalments", terms.instalments, now)
        elif terms.kind == ArrangementKind.DEFERRAL:
            v.in_future("deferred_until", terms.deferred_until, now)
        elif terms.kind == ArrangementKind.WAIVER:
            v.positive_amount("waiver_minor", terms.waiver_minor)
        elif terms.kind == ArrangementKind.SETTLEMENT:
            v.positive_amount("settlement_amount_minor", terms.settlement_amount_minor)
            v.in_future("settlement_due_time", terms.settlement_due_time, now)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        return case.propose_arrangement(
            meta, terms=self.terms, approval_limit_minor=policy.approval_limit_minor
        )


@dataclass(frozen=True)
class ApproveArrangement(Command):
    arrangement_id: str = ""
    note: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.require_id("arrangement_id", self.arrangement_id)
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.approve_arrangement(meta, arrangement_id=self.arrangement_id, note=self.note)
        return self.arrangement_id


@dataclass(frozen=True)
class CloseCase(Command):
    reason: str = ""
    note: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.choice("reason", self.reason, CloseReason)
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.close(meta, reason=self.reason, note=self.note)
        return ""


@dataclass(frozen=True)
class AssignCase(Command):
    assignee: str = ""
    note: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.require_id("assignee", self.assignee)
        name = self.assignee
        if name and (name != name.strip() or not name.isprintable()):
            v.add("assignee", "must be printable, without leading or trailing spaces")
        v.limit_text("note", self.note, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.assign(meta, assignee=self.assignee, note=self.note)
        return ""


@dataclass(frozen=True)
class PlaceHold(Command):
    kind: str = ""
    until: datetime | None = None
    reason: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.choice("kind", self.kind, HoldKind)
        if self.until is not None and self.until <= now:
            v.add("until", "must be in the future")
        if not self.reason:
            v.add("reason", "is required")
        v.limit_text("reason", self.reason, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        return case.place_hold(meta, kind=self.kind, until=self.until, reason=self.reason)


@dataclass(frozen=True)
class ReleaseHold(Command):
    hold_id: str = ""
    reason: str = ""

    def check(self, v: Violations, now: datetime) -> None:
        v.require_id("hold_id", self.hold_id)
        v.limit_text("reason", self.reason, MAX_NOTE_LENGTH)

    def run(self, case: Case, meta: CommandMeta, policy: Policy) -> str:
        case.release_hold(meta, hold_id=self.hold_id, reason=self.reason)
        return self.hold_id
