"""What the compliance engine is told: the facts of one case and the contact being considered.

Plain frozen values with no behaviour beyond small predicates, so that callers can build them
from events, from a read model or by hand in a test, and the rules stay pure functions of them.
Every datetime must be timezone-aware; the engine converts to the debtor's zone itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Vocabulary. Plain strings (not enums) so that the domain's StrEnum values compare equal.
PHONE = "PHONE"
SMS = "SMS"
EMAIL = "EMAIL"
LETTER = "LETTER"
FIELD_VISIT = "FIELD_VISIT"
APP_MESSAGE = "APP_MESSAGE"
CHANNELS = frozenset({PHONE, SMS, EMAIL, LETTER, FIELD_VISIT, APP_MESSAGE})

OUTBOUND = "OUTBOUND"
INBOUND = "INBOUND"

DEBTOR = "DEBTOR"
THIRD_PARTY = "THIRD_PARTY"

NO_ANSWER = "NO_ANSWER"
BUSY = "BUSY"
VOICEMAIL_LEFT = "VOICEMAIL_LEFT"
WRONG_NUMBER = "WRONG_NUMBER"
THIRD_PARTY_REACHED = "THIRD_PARTY"
RIGHT_PARTY_VERIFIED = "RIGHT_PARTY_VERIFIED"
RIGHT_PARTY_UNVERIFIED = "RIGHT_PARTY_UNVERIFIED"
REFUSED = "REFUSED"
DELIVERED = "DELIVERED"
UNDELIVERED = "UNDELIVERED"

FINAL_NOTICE = "FINAL_NOTICE"


@dataclass(frozen=True)
class PastContact:
    at: datetime  # timezone-aware business time the contact occurred
    channel: str
    direction: str  # OUTBOUND | INBOUND
    outcome: str
    target: str = DEBTOR  # whom the collector set out to contact

    @property
    def outbound(self) -> bool:
        return self.direction == OUTBOUND


@dataclass(frozen=True)
class Hold:
    kind: str  # COMPLAINT, HARDSHIP, BANKRUPTCY, DECEASED, FRAUD
    since: datetime
    until: datetime | None = None  # None: until released

    def active_at(self, t: datetime) -> bool:
        return self.since <= t and (self.until is None or t < self.until)


@dataclass(frozen=True)
class IssuedLetter:
    letter_type: str  # REMINDER, DEMAND, FINAL_NOTICE, LAWYER
    at: datetime


@dataclass(frozen=True)
class CaseFacts:
    time_zone: str  # IANA name of the debtor's zone
    closed: bool = False
    ceased_channels: frozenset[str] = frozenset()
    dispute_open: bool = False
    holds: tuple[Hold, ...] = ()  # includes ended ones
    contacts: tuple[PastContact, ...] = ()  # logged (not refused) contacts, any order
    letters: tuple[IssuedLetter, ...] = ()


@dataclass(frozen=True)
class ContactIntent:
    channel: str
    direction: str
    at: datetime
    target: str = DEBTOR
    outcome: str | None = None  # None when asking in advance
    debt_disclosed: bool = False  # whether the debt was discussed in this contact

    @property
    def outbound(self) -> bool:
        return self.direction == OUTBOUND
