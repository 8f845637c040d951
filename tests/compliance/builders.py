"""Small builders so that the tests read like the rules they check."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from casebook_case.compliance import (
    CaseFacts,
    ContactIntent,
    Decision,
    PastContact,
    check_contact,
    get_profile,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CN = get_profile("CN")
US = get_profile("US_REG_F")


def sh(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def ny(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=NEW_YORK, fold=fold)


def cn_case(**facts) -> CaseFacts:
    return CaseFacts(time_zone="Asia/Shanghai", **facts)


def us_case(**facts) -> CaseFacts:
    return CaseFacts(time_zone="America/New_York", **facts)


def outbound(channel: str, at: datetime, **kw) -> ContactIntent:
    return ContactIntent(channel=channel, direction="OUTBOUND", at=at, **kw)


def call(at: datetime, **kw) -> ContactIntent:
    return outbound("PHONE", at, **kw)


def logged_call(
    at: datetime,
    outcome: str = "NO_ANSWER",
    *,
    direction: str = "OUTBOUND",
    target: str = "DEBTOR",
    channel: str = "PHONE",
) -> PastContact:
    return PastContact(at=at, channel=channel, direction=direction, outcome=outcome, target=target)


def reasons(decision: Decision) -> list[str]:
    return [r.reason for r in decision.refusals]


def cn_reasons(facts: CaseFacts, intent: ContactIntent) -> list[str]:
    return reasons(check_contact(facts, intent, CN))


def us_reasons(facts: CaseFacts, intent: ContactIntent) -> list[str]:
    return reasons(check_contact(facts, intent, US))
