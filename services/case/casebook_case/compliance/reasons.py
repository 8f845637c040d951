"""Why the engine said no: the fixed reason codes and the refusal value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OUTSIDE_CONTACT_HOURS = "OUTSIDE_CONTACT_HOURS"
REST_DAY = "REST_DAY"
FREQUENCY_LIMIT = "FREQUENCY_LIMIT"
CEASE_REQUESTED = "CEASE_REQUESTED"
DISPUTE_OPEN = "DISPUTE_OPEN"
HOLD_ACTIVE = "HOLD_ACTIVE"
THIRD_PARTY_DISCLOSURE = "THIRD_PARTY_DISCLOSURE"
CASE_CLOSED = "CASE_CLOSED"
FINAL_NOTICE_REQUIRED = "FINAL_NOTICE_REQUIRED"


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str  # human-readable, never personal data
    next_permitted_time: datetime | None = None  # when this rule alone would next allow it
