"""Vocabulary and value objects of a case. Events store the enum values as plain strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    EARLY = "EARLY"
    MID = "MID"
    LATE = "LATE"
    AGENCY = "AGENCY"
    LEGAL = "LEGAL"
    CLOSED = "CLOSED"


# Escalation only climbs this ladder; CLOSED is reached through close_case.
STAGE_LADDER = (Stage.EARLY, Stage.MID, Stage.LATE, Stage.AGENCY, Stage.LEGAL)


def stage_for_dpd(days_past_due: int) -> Stage:
    if days_past_due >= 90:
        return Stage.LATE
    if days_past_due >= 60:
        return Stage.MID
    return Stage.EARLY


class Channel(StrEnum):
    PHONE = "PHONE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    FIELD_VISIT = "FIELD_VISIT"
    APP_MESSAGE = "APP_MESSAGE"


class Direction(StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


class Outcome(StrEnum):
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    VOICEMAIL_LEFT = "VOICEMAIL_LEFT"
    WRONG_NUMBER = "WRONG_NUMBER"
    THIRD_PARTY = "THIRD_PARTY"
    RIGHT_PARTY_VERIFIED = "RIGHT_PARTY_VERIFIED"
    RIGHT_PARTY_UNVERIFIED = "RIGHT_PARTY_UNVERIFIED"
    REFUSED = "REFUSED"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"


# Outcomes in which the verified debtor was on the other end.
RIGHT_PARTY_OUTCOMES = frozenset({Outcome.RIGHT_PARTY_VERIFIED, Outcome.REFUSED})
# Outcomes in which nobody answered: they count as attempts, never as contact.
UNANSWERED_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL_LEFT})


def party_reached(outcome: str) -> str:
    """Who was on the other end: DEBTOR, THIRD_PARTY or NOBODY."""
    if outcome in RIGHT_PARTY_OUTCOMES:
        return "DEBTOR"
    if outcome in (Outcome.THIRD_PARTY, Outcome.WRONG_NUMBER, Outcome.RIGHT_PARTY_UNVERIFIED):
        return "THIRD_PARTY"
    if outcome == Outcome.DELIVERED:
        return "DEBTOR_ADDRESS"
    return "NOBODY"


class ContactTarget(StrEnum):
    DEBTOR = "DEBTOR"
    THIRD_PARTY = "THIRD_PARTY"


class PaymentChannel(StrEnum):
    BANK_TRANSFER = "BANK_TRANSFER"
    ALIPAY = "ALIPAY"
    WECHAT_PAY = "WECHAT_PAY"
    CARD = "CARD"
    CASH = "CASH"
    CHEQUE = "CHEQUE"
    DIRECT_DEBIT = "DIRECT_DEBIT"


class LetterType(StrEnum):
    REMINDER = "REMINDER"
    DEMAND = "DEMAND"
    FINAL_NOTICE = "FINAL_NOTICE"
    LAWYER = "LAWYER"


class CloseReason(StrEnum):
    PAID_IN_FULL = "PAID_IN_FULL"
    SETTLED = "SETTLED"
    WRITTEN_OFF = "WRITTEN_OFF"
    DECEASED_DEBTOR = "DECEASED_DEBTOR"
    BANKRUPT = "BANKRUPT"
    FRAUD_CONFIRMED = "FRAUD_CONFIRMED"
    OPENED_IN_ERROR = "OPENED_IN_ERROR"


class PromiseStatus(StrEnum):
    OPEN = "OPEN"
    KEPT = "KEPT"
    BROKEN = "BROKEN"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"


class ArrangementKind(StrEnum):
    INSTALMENT_PLAN = "INSTALMENT_PLAN"
    DEFERRAL = "DEFERRAL"
    WAIVER = "WAIVER"
    SETTLEMENT = "SETTLEMENT"


class ArrangementStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"


@dataclass
class Debtor:
    name: str
    phone: str
    email: str
    address: str
    time_zone: str
    id_number: str = ""


@dataclass
class Instalment:
    amount_minor: int
    due_time: datetime
    paid_minor: int = 0


@dataclass
class PromiseState:
    promise_id: str
    amount_minor: int
    due_time: datetime
    payment_channel: str
    instalments: list[Instalment]
    recorded_at: datetime
    status: str = PromiseStatus.OPEN
    paid_minor: int = 0
    arrangement_id: str = ""
    replaced_by_promise_id: str = ""
    status_reason: str = ""

    def owed_by(self, instant: datetime) -> int:
        """What should have been paid by `instant`: the instalments due by then."""
        return sum(i.amount_minor for i in self.instalments if i.due_time <= instant)

    def first_shortfall_due_time(self) -> datetime | None:
        """Due time of the first instalment whose cumulative amount is not covered."""
        cumulative = 0
        for instalment in self.instalments:
            cumulative += instalment.amount_minor
            if self.paid_minor < cumulative:
                return instalment.due_time
        return None


@dataclass
class PaymentState:
    payment_id: str
    payment_reference: str
    amount_minor: int
    received_at: datetime
    overpayment_minor: int = 0
    allocated_promise_ids: list[str] = field(default_factory=list)


@dataclass
class ArrangementTerms:
    """What an arrangement offers; which fields matter depends on the kind."""

    kind: str
    instalments: list[Instalment] = field(default_factory=list)  # INSTALMENT_PLAN
    deferred_until: datetime | None = None  # DEFERRAL
    waiver_minor: int = 0  # WAIVER
    settlement_amount_minor: int = 0  # SETTLEMENT
    settlement_due_time: datetime | None = None  # SETTLEMENT
    payment_channel: str = ""
    note: str = ""

    def concession_minor(self, balance_minor: int) -> int:
        """How much of the balance the bank gives up under these terms."""
        if self.kind == ArrangementKind.WAIVER:
            return self.waiver_minor
        if self.kind == ArrangementKind.SETTLEMENT:
            return max(balance_minor - self.settlement_amount_minor, 0)
        return 0


@dataclass
class ArrangementState:
    arrangement_id: str
    terms: ArrangementTerms
    status: str
    requires_approval: bool
    proposed_by: str
    approved_by: str = ""


@dataclass
class DisputeState:
    dispute_id: str
    reason: str
    raised_at: datetime
    status: str = "OPEN"
    resolved_at: datetime | None = None
    resolution: str = ""


@dataclass
class LetterState:
    letter_type: str
    template_id: str
    template_version: int
    content_sha256: str
    issued_at: datetime


@dataclass
class ContactState:
    """What the conduct rules need to remember of each logged contact."""

    at: datetime
    channel: str
    direction: str
    outcome: str
    target: str


class HoldKind(StrEnum):
    COMPLAINT = "COMPLAINT"
    HARDSHIP = "HARDSHIP"
    BANKRUPTCY = "BANKRUPTCY"
    DECEASED = "DECEASED"
    FRAUD = "FRAUD"


@dataclass
class HoldState:
    hold_id: str
    kind: str
    since: datetime
    until: datetime | None = None  # None: until released
    reason: str = ""
    released_at: datetime | None = None

    def ends_at(self) -> datetime | None:
        """When the hold stops blocking: its end time or its release, whichever is first."""
        ends = [t for t in (self.until, self.released_at) if t is not None]
        return min(ends) if ends else None

    def active_at(self, instant: datetime) -> bool:
        end = self.ends_at()
        return self.since <= instant and (end is None or instant < end)


@dataclass
class RequestRecord:
    """The outcome of a command with a request_id, so a retry can return it unchanged:
    the result, or the refusal it met."""

    version: int
    fingerprint: str
    result_id: str = ""
    refused_reasons: list[str] = field(default_factory=list)
    next_permitted_time: datetime | None = None
