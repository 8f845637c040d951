"""Properties over random case histories: the rules hold whatever the sequence of events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from builders import CN, US
from hypothesis import given, settings
from hypothesis import strategies as st

from casebook_case.compliance import (
    CaseFacts,
    ContactIntent,
    Hold,
    PastContact,
    check_contact,
    next_permitted_time,
)
from casebook_case.compliance.localtime import first_instant_at_or_after, local

SETTINGS = settings(max_examples=120, deadline=None, database=None)
WEEK = timedelta(days=7)

# Periods with something to trip over: a US DST change, the CN Golden Week with its make-up
# Saturdays, the US fall-back, an ordinary stretch.
PERIOD_STARTS = [
    datetime(2026, 3, 2, tzinfo=UTC),
    datetime(2026, 9, 25, tzinfo=UTC),
    datetime(2026, 10, 27, tzinfo=UTC),
    datetime(2026, 5, 10, tzinfo=UTC),
]
ZONES = ["Asia/Shanghai", "America/New_York", "America/Los_Angeles", "Europe/London"]
OUTCOMES = [
    "NO_ANSWER",
    "BUSY",
    "VOICEMAIL_LEFT",
    "WRONG_NUMBER",
    "THIRD_PARTY",
    "RIGHT_PARTY_VERIFIED",
    "RIGHT_PARTY_UNVERIFIED",
    "REFUSED",
    "DELIVERED",
    "UNDELIVERED",
]


# --- (1) a dialer that only calls when permitted never breaks Regulation F -------------------

steps = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 3 * 3600), st.integers(0, 3 * 86400)),  # seconds to wait
        st.sampled_from(["NO_ANSWER"] * 4 + ["VOICEMAIL_LEFT", "RIGHT_PARTY_VERIFIED"]),
        st.sampled_from(["OUTBOUND"] * 5 + ["INBOUND"]),
        st.booleans(),  # jump to the next permitted time, as a dialer would
    ),
    min_size=1,
    max_size=45,
)


@SETTINGS
@given(start=st.sampled_from(PERIOD_STARTS), zone=st.sampled_from(ZONES[1:3]), steps=steps)
def test_us_calls_made_only_when_permitted_never_exceed_seven_in_any_seven_days(start, zone, steps):
    t, logged = start, []
    for wait, outcome, direction, jump in steps:
        t += timedelta(seconds=wait)
        facts = CaseFacts(time_zone=zone, contacts=tuple(reversed(logged)))
        if jump:
            t = next_permitted_time(facts, "PHONE", t, US) or t
        intent = ContactIntent("PHONE", direction, t, outcome=outcome)
        if check_contact(facts, intent, US).permitted:
            logged.append(PastContact(t, "PHONE", direction, outcome))
    calls = sorted(c.at.astimezone(UTC) for c in logged if c.direction == "OUTBOUND")
    assert all(calls[i + 7] - calls[i] >= WEEK for i in range(len(calls) - 7))
    talks = [c.at for c in logged if c.outcome == "RIGHT_PARTY_VERIFIED"]
    assert not any(talk < call < talk + WEEK for talk in talks for call in calls)
    for call in calls:
        assert 8 <= local(call, zone).hour < 21


# --- (2) next_permitted_time is permitted, and nothing earlier is ---------------------------


@st.composite
def cases(draw):
    start = draw(st.sampled_from(PERIOD_STARTS))
    zone = draw(st.sampled_from(ZONES))

    def instant(max_days=12):
        return start + timedelta(seconds=draw(st.integers(0, max_days * 86400)))

    contacts = tuple(
        PastContact(
            at=instant(),
            channel=draw(st.sampled_from(["PHONE", "PHONE", "SMS"])),
            direction=draw(st.sampled_from(["OUTBOUND", "OUTBOUND", "INBOUND"])),
            outcome=draw(st.sampled_from(OUTCOMES[:3] * 3 + OUTCOMES)),
            target=draw(st.sampled_from(["DEBTOR", "DEBTOR", "THIRD_PARTY"])),
        )
        for _ in range(draw(st.integers(0, 14)))
    )
    holds = []
    for _ in range(draw(st.integers(0, 2))):
        since = instant()
        until = (
            None
            if draw(st.integers(0, 5)) == 0
            else since + timedelta(seconds=draw(st.integers(1, 4 * 86400)))
        )
        holds.append(Hold(draw(st.sampled_from(["COMPLAINT", "HARDSHIP"])), since, until))
    facts = CaseFacts(
        time_zone=zone,
        closed=draw(st.integers(0, 20)) == 0,
        ceased_channels=frozenset(draw(st.sets(st.sampled_from(["PHONE", "SMS"]), max_size=1))),
        dispute_open=draw(st.integers(0, 20)) == 0,
        holds=tuple(holds),
        contacts=contacts,
    )
    at = instant(14).astimezone(ZoneInfo(draw(st.sampled_from(ZONES))))
    channel = draw(st.sampled_from(["PHONE", "PHONE", "SMS", "FIELD_VISIT", "EMAIL"]))
    target = draw(st.sampled_from(["DEBTOR", "DEBTOR", "THIRD_PARTY"]))
    profile = draw(st.sampled_from([CN, US]))
    return facts, at, channel, target, profile


def boundaries(facts, at, until):
    """Instants where some rule may change its mind, between ``at`` and ``until``."""
    found = set()
    for c in facts.contacts:
        found |= {c.at, c.at + WEEK}
    for h in facts.holds:
        found |= {h.since} | ({h.until} if h.until else set())
    day = local(at, facts.time_zone).date()
    while first_instant_at_or_after(day, datetime.min.time(), facts.time_zone) < until:
        for hh in (0, 8):
            found.add(
                first_instant_at_or_after(
                    day, datetime.min.time().replace(hour=hh), facts.time_zone
                )
            )
        day += timedelta(days=1)
    return sorted(b.astimezone(UTC) for b in found if at < b <= until)


@SETTINGS
@given(case=cases(), fractions=st.lists(st.floats(0, 1, exclude_max=True), max_size=6))
def test_next_permitted_time_is_the_earliest_permitted_instant(case, fractions):
    facts, at, channel, target, profile = case

    def permitted(t):
        intent = ContactIntent(channel, "OUTBOUND", t, target=target)
        return check_contact(facts, intent, profile).permitted

    found = next_permitted_time(facts, channel, at, profile, target=target)
    decision = check_contact(facts, ContactIntent(channel, "OUTBOUND", at, target=target), profile)
    if found is None:
        assert not decision.permitted and decision.next_permitted_time is None
        return
    assert found >= at and permitted(found)
    assert (found == at) == decision.permitted
    if not decision.permitted and decision.next_permitted_time is not None:
        assert decision.next_permitted_time == found
    if found == at:
        return
    earlier = [at + (found - at) * f for f in fractions]
    earlier += [b - timedelta(microseconds=1) for b in boundaries(facts, at, found)]
    earlier += [found - timedelta(microseconds=1), found - timedelta(seconds=1)]
    for t in earlier:
        if at <= t < found:
            assert not permitted(t), t
