"""Decisions: may this contact happen, when may it next happen, may the case escalate.

Pure functions of (case facts, request, profile); the time in question is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from casebook_case.compliance.facts import (
    DEBTOR,
    FINAL_NOTICE,
    INBOUND,
    OUTBOUND,
    CaseFacts,
    ContactIntent,
)
from casebook_case.compliance.localtime import utc
from casebook_case.compliance.profiles import Profile
from casebook_case.compliance.reasons import (
    CASE_CLOSED,
    DISPUTE_OPEN,
    FINAL_NOTICE_REQUIRED,
    HOLD_ACTIVE,
    Refusal,
)
from casebook_case.compliance.rules import (
    CONTACT_HOURS_RULE,
    COOLDOWN_RULE,
    DAILY_LIMIT_RULE,
    HOLD_RULE,
    REST_DAY_RULE,
    ROLLING_LIMIT_RULE,
    SEARCH_DAYS,
    STANDING_RULES,
    THIRD_PARTY_RULE,
    TIMED_RULES,
    StandingRule,
    TimedRule,
    case_closed,
    cease_requested,
    debt_disclosed_to_third_party,
    dispute_open,
    hold_lifted,
)

__all__ = [
    "Decision",
    "Refusal",
    "check_contact",
    "check_escalation",
    "next_permitted_time",
]

# The order refusals are reported in: what the case's state forbids first, then the clock.
_CONTACT_RULES: tuple[StandingRule | TimedRule, ...] = (
    case_closed,
    cease_requested,
    dispute_open,
    HOLD_RULE,
    debt_disclosed_to_third_party,
    THIRD_PARTY_RULE,
    CONTACT_HOURS_RULE,
    REST_DAY_RULE,
    DAILY_LIMIT_RULE,
    ROLLING_LIMIT_RULE,
    COOLDOWN_RULE,
)


@dataclass(frozen=True)
class Decision:
    permitted: bool
    refusals: tuple[Refusal, ...]  # every failing rule, in a stable order
    next_permitted_time: datetime | None  # set only when nothing but the clock refuses
    profile_id: str
    profile_version: int


def check_contact(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> Decision:
    """Whether ``intent`` may happen (asked in advance) or was allowed (when logging it).

    Times in the decision are expressed in the zone of ``intent.at``.
    """
    _require_aware(intent.at)
    if intent.direction == INBOUND:
        # The debtor reaching out is never a breach, even on a closed or disputed case.
        return _decision((), None, profile)
    probe = replace(intent, at=utc(intent.at))
    refusals = []
    only_waiting_needed = True
    for rule in _CONTACT_RULES:
        if isinstance(rule, TimedRule):
            refusal = rule.check(facts, probe, profile)
            lifted_by_waiting = rule.lifted_by_time
        else:
            refusal = rule(facts, probe, profile)
            lifted_by_waiting = False
        if refusal is None:
            continue
        # A timed refusal without a time (a hold with no end) is not lifted by waiting either.
        only_waiting_needed = (
            only_waiting_needed and lifted_by_waiting and refusal.next_permitted_time is not None
        )
        refusals.append(_in_zone_of(intent.at, refusal))
    next_time = None
    if refusals and only_waiting_needed:
        next_time = next_permitted_time(
            facts,
            intent.channel,
            intent.at,
            profile,
            direction=intent.direction,
            target=intent.target,
        )
    return _decision(tuple(refusals), next_time, profile)


def next_permitted_time(
    facts: CaseFacts,
    channel: str,
    at: datetime,
    profile: Profile,
    *,
    direction: str = OUTBOUND,
    target: str = DEBTOR,
    search_days: int = SEARCH_DAYS,
) -> datetime | None:
    """The earliest instant at or after ``at`` every rule allows a contact on ``channel``.

    ``at`` itself when allowed now, otherwise an instant in the zone of ``at``. None when
    something no amount of waiting lifts blocks it (closed case, cease request, open dispute,
    hold without end, third party not yet allowed) or nothing is allowed within
    ``search_days``.
    """
    _require_aware(at)
    if direction == INBOUND:
        return at
    intent = ContactIntent(channel=channel, direction=direction, at=utc(at), target=target)
    if any(rule(facts, intent, profile) for rule in STANDING_RULES):
        return None
    found = _earliest_allowed_by_all(
        facts, intent, profile, TIMED_RULES, intent.at + timedelta(days=search_days)
    )
    if found is None:
        return None
    return at if found == intent.at else found.astimezone(at.tzinfo)


def check_escalation(
    facts: CaseFacts, to_stage: str, at: datetime, profile: Profile
) -> tuple[Refusal, ...]:
    """Why the case may not move to ``to_stage`` at ``at`` (empty when it may)."""
    _require_aware(at)
    checks = (
        _escalation_case_closed,
        _escalation_dispute_open,
        _escalation_hold_active,
        _final_notice_required,
    )
    return tuple(r for check in checks if (r := check(facts, to_stage, at, profile)) is not None)


# --- internals -----------------------------------------------------------------------------


def _earliest_allowed_by_all(
    facts: CaseFacts,
    intent: ContactIntent,
    profile: Profile,
    rules: tuple[TimedRule, ...],
    give_up_after: datetime,
) -> datetime | None:
    # Each rule's answer is the earliest instant it allows, so no instant skipped while moving
    # forward can be allowed by all; when no rule moves t any more, t is allowed by all.
    t = intent.at
    while t <= give_up_after:
        moved = False
        for rule in rules:
            allowed_from = rule.earliest(facts, replace(intent, at=t), profile)
            if allowed_from is None:
                return None
            if utc(allowed_from) > t:
                t, moved = utc(allowed_from), True
        if not moved:
            return t
    return None


def _escalation_case_closed(
    facts: CaseFacts, to_stage: str, at: datetime, profile: Profile
) -> Refusal | None:
    if facts.closed:
        return Refusal(CASE_CLOSED, "The case is closed: it cannot escalate.")
    return None


def _escalation_dispute_open(
    facts: CaseFacts, to_stage: str, at: datetime, profile: Profile
) -> Refusal | None:
    if facts.dispute_open and to_stage in profile.escalation.blocked_by_dispute:
        return Refusal(DISPUTE_OPEN, f"A dispute is open: no escalation to {to_stage}.")
    return None


def _escalation_hold_active(
    facts: CaseFacts, to_stage: str, at: datetime, profile: Profile
) -> Refusal | None:
    # Handing the case to an agency or to lawyers is itself outbound collection, which holds
    # block (DOMAIN: holds block every outbound collection action while active).
    if to_stage not in profile.escalation.blocked_by_hold:
        return None
    probe = ContactIntent(channel="", direction=OUTBOUND, at=utc(at))
    lifted = hold_lifted(facts, probe, profile)
    if lifted == probe.at:
        return None
    kinds = sorted({h.kind for h in facts.holds if h.active_at(probe.at)})
    return Refusal(
        HOLD_ACTIVE,
        f"A hold is active ({', '.join(kinds)}): no escalation to {to_stage}.",
        None if lifted is None else lifted.astimezone(at.tzinfo),
    )


def _final_notice_required(
    facts: CaseFacts, to_stage: str, at: datetime, profile: Profile
) -> Refusal | None:
    policy = profile.escalation
    if to_stage not in policy.final_notice_required_for:
        return None
    wait = timedelta(days=policy.final_notice_days)  # 24-hour days, as in the contact rules
    ready_at = [utc(x.at) + wait for x in facts.letters if x.letter_type == FINAL_NOTICE]
    if any(ready <= utc(at) for ready in ready_at):
        return None
    return Refusal(
        FINAL_NOTICE_REQUIRED,
        f"{to_stage} requires a final notice issued at least {policy.final_notice_days} days "
        "earlier.",
        min(ready_at).astimezone(at.tzinfo) if ready_at else None,
    )


def _decision(
    refusals: tuple[Refusal, ...], next_time: datetime | None, profile: Profile
) -> Decision:
    return Decision(
        permitted=not refusals,
        refusals=refusals,
        next_permitted_time=next_time,
        profile_id=profile.id,
        profile_version=profile.version,
    )


def _in_zone_of(at: datetime, refusal: Refusal) -> Refusal:
    when = refusal.next_permitted_time
    if when is None:
        return refusal
    return replace(refusal, next_permitted_time=when.astimezone(at.tzinfo))


def _require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("compliance decisions need timezone-aware datetimes")
