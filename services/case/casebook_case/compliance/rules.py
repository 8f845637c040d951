"""The conduct rules, one small function each.

Two kinds of rule:

* standing rules (closed case, cease request, open dispute, debt disclosed to a third party)
  refuse or not; only a change of the case lifts them, never the clock;
* timed rules answer "what is the earliest instant at or after ``intent.at`` that I allow?"
  (``intent.at`` itself when the rule has no objection, None when never). A refusal is derived
  from that answer, so checking a contact and searching for the next permitted time cannot
  disagree. Each answer is exact (never skips an instant the rule would allow), which is what
  lets the engine find the earliest instant every rule allows by iterating to a fixed point.

Instants the timed rules compute are in UTC (see ``localtime.utc``); the engine presents
them in the caller's zone. All rules concern outbound contacts; the engine lets inbound
contacts through before asking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from casebook_case.compliance.facts import DEBTOR, THIRD_PARTY, CaseFacts, ContactIntent
from casebook_case.compliance.localtime import (
    first_instant_at_or_after,
    is_rest_day,
    local,
    start_of_next_day,
    utc,
)
from casebook_case.compliance.profiles import Profile
from casebook_case.compliance.reasons import (
    CASE_CLOSED,
    CEASE_REQUESTED,
    DISPUTE_OPEN,
    FREQUENCY_LIMIT,
    HOLD_ACTIVE,
    OUTSIDE_CONTACT_HOURS,
    REST_DAY,
    THIRD_PARTY_DISCLOSURE,
    Refusal,
)

StandingRule = Callable[[CaseFacts, ContactIntent, Profile], Refusal | None]
Earliest = Callable[[CaseFacts, ContactIntent, Profile], datetime | None]
Describe = Callable[[CaseFacts, ContactIntent, Profile], str]

# A search that has to look further than this gives up (None) rather than loop: every profile
# allows some contact within a year unless something permanent blocks it.
SEARCH_DAYS = 400


# --- standing rules ------------------------------------------------------------------------


def case_closed(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> Refusal | None:
    if facts.closed:
        return Refusal(CASE_CLOSED, "The case is closed: no outbound contact.")
    return None


def cease_requested(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> Refusal | None:
    if intent.channel in facts.ceased_channels:
        return Refusal(CEASE_REQUESTED, f"The debtor asked to cease contact by {intent.channel}.")
    return None


def dispute_open(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> Refusal | None:
    if facts.dispute_open:
        return Refusal(DISPUTE_OPEN, "A dispute is open: collection stops until it is resolved.")
    return None


def debt_disclosed_to_third_party(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> Refusal | None:
    # Only decidable once the outcome is known, i.e. when a contact is being logged.
    if intent.outcome is None or not intent.debt_disclosed:
        return None
    reached_someone_else = (
        intent.target == THIRD_PARTY or intent.outcome in profile.third_party.non_debtor_outcomes
    )
    if reached_someone_else:
        return Refusal(
            THIRD_PARTY_DISCLOSURE,
            "The debt must not be disclosed to anyone but the verified debtor.",
        )
    return None


# --- timed rules: earliest instant each allows ---------------------------------------------


def hold_lifted(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> datetime | None:
    t = utc(intent.at)
    while active := [h for h in facts.holds if h.active_at(t)]:
        if any(h.until is None for h in active):
            return None
        # Holds may overlap or follow one another: re-check at the latest end.
        t = max(utc(h.until) for h in active if h.until is not None)
    return t


def third_party_permitted(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> datetime | None:
    # A third party may be approached only after the debtor proved unreachable. Attempts
    # logged at the same instant count as prior: they have already happened.
    needed = profile.third_party.min_unreachable_attempts
    if intent.target != THIRD_PARTY or needed == 0:
        return intent.at
    failed = sorted(
        utc(c.at)
        for c in facts.contacts
        if c.outbound
        and c.target == DEBTOR
        and c.outcome in profile.third_party.unreachable_outcomes
    )
    if len(failed) < needed:
        return None
    return max(utc(intent.at), failed[needed - 1])


def within_contact_hours(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> datetime | None:
    hours = profile.contact_hours
    if hours is None or intent.channel not in hours.channels:
        return intent.at
    wall = local(intent.at, facts.time_zone)
    if hours.start <= wall.time() < hours.end:
        return intent.at
    day = wall.date() if wall.time() < hours.start else wall.date() + timedelta(days=1)
    return utc(first_instant_at_or_after(day, hours.start, facts.time_zone))


def on_a_working_day(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> datetime | None:
    rest = profile.rest_days
    if rest is None or intent.channel not in rest.channels:
        return intent.at
    t = intent.at
    for _ in range(SEARCH_DAYS):
        if not is_rest_day(local(t, facts.time_zone).date(), rest):
            return t
        t = start_of_next_day(t, facts.time_zone)
    return None


def under_daily_unanswered_limit(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> datetime | None:
    # Once the day's unanswered attempts are used up every further attempt that day is
    # refused, whatever its outcome turns out to be: the caller cannot know in advance that
    # the next one will be answered, and logging must agree with the advance check.
    limit = profile.daily_unanswered_limit
    if limit is None or intent.channel not in limit.channels:
        return intent.at
    # "Per contact method" is the channel: the facts do not say which number was dialled, so
    # calls to the debtor and to third parties share the allowance (the cautious reading).
    days = [
        local(c.at, facts.time_zone).date()
        for c in facts.contacts
        if c.outbound and c.channel == intent.channel and c.outcome in limit.unanswered_outcomes
    ]
    t = intent.at
    while days.count(local(t, facts.time_zone).date()) >= limit.max_unanswered:
        t = start_of_next_day(t, facts.time_zone)
    return t


def under_rolling_call_limit(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> datetime | None:
    limit = profile.rolling_call_limit
    if limit is None or intent.channel not in limit.channels:
        return intent.at
    # Every outbound call counts, whoever it was meant for: the facts cannot tell persons
    # apart, and over-counting only errs on the side of fewer calls.
    calls = sorted(utc(c.at) for c in facts.contacts if c.outbound and c.channel in limit.channels)
    n, window = limit.max_calls, limit.window
    # A call at t would make n+1 within one window iff some n consecutive logged calls
    # x[i]..x[i+n-1] satisfy x[i+n-1] - window < t < x[i] + window. Late-logged calls after t
    # count too, so the bound holds in every window, not only the one ending at t.
    t = utc(intent.at)
    while blocking := [
        calls[i] + window
        for i in range(len(calls) - n + 1)
        if calls[i + n - 1] - window < t < calls[i] + window
    ]:
        t = max(blocking)
    return t


def outside_conversation_cooldown(
    facts: CaseFacts, intent: ContactIntent, profile: Profile
) -> datetime | None:
    cooldown = profile.conversation_cooldown
    if cooldown is None or intent.channel not in cooldown.channels:
        return intent.at
    # Inbound conversations count as well: the debtor calling in is still a conversation.
    conversations = [
        utc(c.at)
        for c in facts.contacts
        if c.channel in cooldown.conversation_channels
        and c.outcome in cooldown.conversation_outcomes
    ]
    t = utc(intent.at)
    while blocking := [
        at + cooldown.quiet_period for at in conversations if at <= t < at + cooldown.quiet_period
    ]:
        t = max(blocking)
    return t


# --- timed rules as refusals ---------------------------------------------------------------


@dataclass(frozen=True)
class TimedRule:
    reason: str
    earliest: Earliest
    describe: Describe
    # False for rules that only events lift (more failed attempts), not the clock; their
    # refusals carry no next permitted time.
    lifted_by_time: bool = True

    def check(self, facts: CaseFacts, intent: ContactIntent, profile: Profile) -> Refusal | None:
        allowed_from = self.earliest(facts, intent, profile)
        # Compared in UTC: == between zones is always False for an instant in a DST fold.
        if allowed_from is not None and utc(allowed_from) == utc(intent.at):
            return None
        return Refusal(
            self.reason,
            self.describe(facts, intent, profile),
            allowed_from if self.lifted_by_time else None,
        )


def _hold_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    kinds = sorted({h.kind for h in facts.holds if h.active_at(intent.at)})
    return f"A hold is active ({', '.join(kinds)}): no outbound collection."


def _third_party_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    needed = profile.third_party.min_unreachable_attempts
    return (
        f"Third parties may be contacted only after {needed} failed attempts to reach the debtor."
    )


def _hours_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    hours = profile.contact_hours
    assert hours is not None  # only refuses when the profile has contact hours
    return (
        f"{intent.channel} contact is permitted only {hours.start:%H:%M}-{hours.end:%H:%M} "
        "in the debtor's local time."
    )


def _rest_day_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    return f"No {intent.channel} collection on a rest day (weekend or public holiday)."


def _daily_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    limit = profile.daily_unanswered_limit
    assert limit is not None
    return (
        f"{limit.max_unanswered} unanswered {intent.channel} attempts already today: "
        "no more attempts on this contact method until tomorrow."
    )


def _rolling_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    limit = profile.rolling_call_limit
    assert limit is not None
    return f"At most {limit.max_calls} calls within {limit.window.days} consecutive days."


def _cooldown_message(facts: CaseFacts, intent: ContactIntent, profile: Profile) -> str:
    cooldown = profile.conversation_cooldown
    assert cooldown is not None
    return f"No call within {cooldown.quiet_period.days} days after a telephone conversation."


HOLD_RULE = TimedRule(HOLD_ACTIVE, hold_lifted, _hold_message)
THIRD_PARTY_RULE = TimedRule(
    THIRD_PARTY_DISCLOSURE, third_party_permitted, _third_party_message, lifted_by_time=False
)
CONTACT_HOURS_RULE = TimedRule(OUTSIDE_CONTACT_HOURS, within_contact_hours, _hours_message)
REST_DAY_RULE = TimedRule(REST_DAY, on_a_working_day, _rest_day_message)
DAILY_LIMIT_RULE = TimedRule(FREQUENCY_LIMIT, under_daily_unanswered_limit, _daily_message)
ROLLING_LIMIT_RULE = TimedRule(FREQUENCY_LIMIT, under_rolling_call_limit, _rolling_message)
COOLDOWN_RULE = TimedRule(FREQUENCY_LIMIT, outside_conversation_cooldown, _cooldown_message)

STANDING_RULES: tuple[StandingRule, ...] = (case_closed, cease_requested, dispute_open)
TIMED_RULES: tuple[TimedRule, ...] = (
    HOLD_RULE,
    THIRD_PARTY_RULE,
    CONTACT_HOURS_RULE,
    REST_DAY_RULE,
    DAILY_LIMIT_RULE,
    ROLLING_LIMIT_RULE,
    COOLDOWN_RULE,
)
