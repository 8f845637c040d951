from __future__ import annotations

from datetime import timedelta

import pytest
from builders import (
    CN,
    US,
    call,
    cn_case,
    cn_reasons,
    logged_call,
    ny,
    sh,
    us_case,
    us_reasons,
)

from casebook_case.compliance import check_contact

# --- CN: six unanswered attempts per contact method per day -------------------------------


def unanswered_today(n, outcome="NO_ANSWER"):
    return tuple(logged_call(sh(2026, 5, 13, 9 + i), outcome) for i in range(n))


def test_sixth_unanswered_attempt_in_a_cn_day_is_permitted():
    assert (
        cn_reasons(
            cn_case(contacts=unanswered_today(5)), call(sh(2026, 5, 13, 18), outcome="NO_ANSWER")
        )
        == []
    )


def test_seventh_unanswered_attempt_in_a_cn_day_is_refused_until_tomorrow():
    decision = check_contact(cn_case(contacts=unanswered_today(6)), call(sh(2026, 5, 13, 18)), CN)
    assert [r.reason for r in decision.refusals] == ["FREQUENCY_LIMIT"]
    assert decision.next_permitted_time == sh(2026, 5, 14, 8)


@pytest.mark.parametrize("outcome", ["NO_ANSWER", "BUSY", "VOICEMAIL_LEFT"])
def test_every_kind_of_unanswered_attempt_counts(outcome):
    assert cn_reasons(
        cn_case(contacts=unanswered_today(6, outcome)), call(sh(2026, 5, 13, 18))
    ) == ["FREQUENCY_LIMIT"]


def test_answered_calls_do_not_use_up_the_daily_allowance():
    contacts = (
        *unanswered_today(5),
        logged_call(sh(2026, 5, 13, 15), "RIGHT_PARTY_VERIFIED"),
        logged_call(sh(2026, 5, 13, 16), "REFUSED"),
        logged_call(sh(2026, 5, 13, 17), "WRONG_NUMBER"),
    )
    assert cn_reasons(cn_case(contacts=contacts), call(sh(2026, 5, 13, 18))) == []


def test_inbound_calls_do_not_count_as_attempts():
    contacts = (
        *unanswered_today(5),
        logged_call(sh(2026, 5, 13, 15), "NO_ANSWER", direction="INBOUND"),
    )
    assert cn_reasons(cn_case(contacts=contacts), call(sh(2026, 5, 13, 18))) == []


def test_yesterdays_attempts_do_not_count_today():
    contacts = tuple(logged_call(sh(2026, 5, 12, 9 + i)) for i in range(6))
    assert cn_reasons(cn_case(contacts=contacts), call(sh(2026, 5, 13, 8))) == []


def test_unanswered_sms_do_not_limit_calls():
    contacts = tuple(
        logged_call(sh(2026, 5, 13, 9 + i), "UNDELIVERED", channel="SMS") for i in range(8)
    )
    assert cn_reasons(cn_case(contacts=contacts), call(sh(2026, 5, 13, 18))) == []


# --- US: seven calls in seven days, and a week's quiet after a conversation ----------------


def seven_calls():
    return tuple(logged_call(ny(2026, 6, 1, 9) + timedelta(hours=i)) for i in range(7))


def test_seventh_us_call_in_seven_days_is_permitted():
    contacts = seven_calls()[:6]
    assert us_reasons(us_case(contacts=contacts), call(ny(2026, 6, 3, 12))) == []


def test_eighth_us_call_in_seven_days_is_refused():
    decision = check_contact(us_case(contacts=seven_calls()), call(ny(2026, 6, 7, 20)), US)
    assert [r.reason for r in decision.refusals] == ["FREQUENCY_LIMIT"]
    # The first of the seven leaves the window exactly 7x24h after it was made.
    assert decision.next_permitted_time == ny(2026, 6, 8, 9)


def test_eighth_us_call_exactly_seven_days_after_the_first_is_permitted():
    assert us_reasons(us_case(contacts=seven_calls()), call(ny(2026, 6, 8, 9))) == []


def test_eighth_us_call_one_second_early_is_refused():
    assert us_reasons(us_case(contacts=seven_calls()), call(ny(2026, 6, 8, 8, 59, 59))) == [
        "FREQUENCY_LIMIT"
    ]


def test_inbound_us_calls_are_not_attempts():
    contacts = (
        *seven_calls()[:6],
        logged_call(ny(2026, 6, 2, 10), "NO_ANSWER", direction="INBOUND"),
    )
    assert us_reasons(us_case(contacts=contacts), call(ny(2026, 6, 3, 12))) == []


def test_a_late_logged_call_counts_in_every_window():
    # Seven calls logged on 10-16 June: a call on 9 June would make eight within 7x24h.
    contacts = tuple(logged_call(ny(2026, 6, 10 + i, 10)) for i in range(7))
    assert us_reasons(us_case(contacts=contacts), call(ny(2026, 6, 9, 12))) == ["FREQUENCY_LIMIT"]


CONVERSATION = ny(2026, 6, 1, 10)


@pytest.mark.parametrize(
    ("after", "permitted"),
    [
        (timedelta(hours=1), False),
        (timedelta(days=6, hours=23), False),
        (timedelta(days=6, hours=23, minutes=59, seconds=59), False),
        (timedelta(days=7), True),
        (timedelta(days=7, hours=1), True),
    ],
    ids=["1h", "6d23h", "6d23h59m59s", "7d", "7d1h"],
)
@pytest.mark.parametrize(
    ("direction", "outcome"),
    [
        ("OUTBOUND", "RIGHT_PARTY_VERIFIED"),
        ("INBOUND", "RIGHT_PARTY_VERIFIED"),
        ("OUTBOUND", "REFUSED"),
    ],
)
def test_us_call_after_a_telephone_conversation(after, permitted, direction, outcome):
    facts = us_case(contacts=(logged_call(CONVERSATION, outcome, direction=direction),))
    expected = [] if permitted else ["FREQUENCY_LIMIT"]
    assert us_reasons(facts, call(CONVERSATION + after)) == expected


@pytest.mark.parametrize(
    "outcome", ["NO_ANSWER", "VOICEMAIL_LEFT", "RIGHT_PARTY_UNVERIFIED", "THIRD_PARTY"]
)
def test_a_call_that_reached_no_verified_debtor_is_no_conversation(outcome):
    facts = us_case(contacts=(logged_call(CONVERSATION, outcome),))
    assert us_reasons(facts, call(CONVERSATION + timedelta(hours=2))) == []


def test_conversation_quiet_week_does_not_stop_letters():
    from builders import outbound

    facts = us_case(contacts=(logged_call(CONVERSATION, "RIGHT_PARTY_VERIFIED"),))
    assert us_reasons(facts, outbound("LETTER", CONVERSATION + timedelta(days=1))) == []


def test_cn_has_no_conversation_quiet_week():
    facts = cn_case(contacts=(logged_call(sh(2026, 5, 13, 10), "RIGHT_PARTY_VERIFIED"),))
    assert cn_reasons(facts, call(sh(2026, 5, 13, 11))) == []


def test_seven_days_are_seven_times_24_hours_across_spring_forward():
    # Seven calls on Saturday 7 March (EST); a week of wall clock later is an hour short.
    contacts = tuple(logged_call(ny(2026, 3, 7, 10) + timedelta(minutes=i)) for i in range(7))
    facts = us_case(contacts=contacts)
    assert us_reasons(facts, call(ny(2026, 3, 14, 10))) == ["FREQUENCY_LIMIT"]
    decision = check_contact(facts, call(ny(2026, 3, 14, 10)), US)
    assert decision.next_permitted_time == ny(2026, 3, 14, 11)  # 168 h after 10:00 EST
    assert us_reasons(facts, call(ny(2026, 3, 14, 11))) == []


def test_conversation_quiet_week_is_168_hours_across_fall_back():
    facts = us_case(contacts=(logged_call(ny(2026, 10, 29, 10), "RIGHT_PARTY_VERIFIED"),))
    assert us_reasons(facts, call(ny(2026, 11, 5, 9, 30))) == []  # 168 h after 10:00 EDT
    assert us_reasons(facts, call(ny(2026, 11, 5, 8, 59))) == ["FREQUENCY_LIMIT"]
