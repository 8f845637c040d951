from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from builders import CN, US, cn_case, logged_call, ny, sh, us_case

from casebook_case.compliance import Hold, next_permitted_time


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(2026, 5, 13, 12), sh(2026, 5, 13, 12)),  # permitted now: at itself
        (sh(2026, 5, 13, 7, 59, 59), sh(2026, 5, 13, 8)),
        (sh(2026, 5, 15, 22, 30), sh(2026, 5, 18, 8)),  # Friday night -> Monday morning
        (sh(2026, 5, 16, 10), sh(2026, 5, 18, 8)),  # Saturday
        (sh(2026, 9, 30, 22, 30), sh(2026, 10, 8, 8)),  # night before the Golden Week
        (sh(2026, 10, 9, 22, 30), sh(2026, 10, 10, 8)),  # make-up working Saturday
        (sh(2026, 12, 31, 23), sh(2027, 1, 4, 8)),  # New Year holiday then the weekend
    ],
    ids=[
        "permitted_now",
        "just_before_0800",
        "friday_night",
        "saturday",
        "night_before_golden_week",
        "friday_before_make_up_saturday",
        "new_years_eve",
    ],
)
def test_next_cn_call(at, expected):
    assert next_permitted_time(cn_case(), "PHONE", at, CN) == expected


def test_next_cn_sms_ignores_rest_days_but_not_the_night():
    assert next_permitted_time(cn_case(), "SMS", sh(2026, 5, 15, 22, 30), CN) == sh(2026, 5, 16, 8)


def test_next_cn_email_is_not_time_limited():
    at = sh(2026, 10, 1, 23, 30)
    assert next_permitted_time(cn_case(), "EMAIL", at, CN) == at


def test_next_cn_call_after_the_days_unanswered_attempts_ran_out_on_a_friday():
    facts = cn_case(contacts=tuple(logged_call(sh(2026, 5, 15, 9 + i)) for i in range(6)))
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 15, 16), CN) == sh(2026, 5, 18, 8)


def test_next_us_call_after_a_conversation_is_a_week_later():
    conversation = ny(2026, 6, 1, 10)
    facts = us_case(contacts=(logged_call(conversation, "RIGHT_PARTY_VERIFIED"),))
    assert next_permitted_time(facts, "PHONE", ny(2026, 6, 3, 12), US) == ny(2026, 6, 8, 10)


def test_next_us_call_after_a_late_evening_conversation_waits_for_morning():
    # The debtor called in at 20:59:30; a week later the quiet period ends 30 s before 21:00.
    evening = us_case(
        contacts=(logged_call(ny(2026, 6, 1, 20, 59, 30), "REFUSED", direction="INBOUND"),)
    )
    assert next_permitted_time(evening, "PHONE", ny(2026, 6, 2), US) == ny(2026, 6, 8, 20, 59, 30)
    late = us_case(contacts=(logged_call(ny(2026, 6, 1, 22), "REFUSED", direction="INBOUND"),))
    assert next_permitted_time(late, "PHONE", ny(2026, 6, 2), US) == ny(2026, 6, 9, 8)


def test_next_us_call_when_seven_calls_and_a_conversation_overlap():
    calls = tuple(logged_call(ny(2026, 6, 1, 9 + i)) for i in range(6))
    talk = logged_call(ny(2026, 6, 2, 9), "RIGHT_PARTY_VERIFIED")
    facts = us_case(contacts=(*calls, talk))
    # Seven calls until 2 June 09:00 keep the 8th out until 8 June 09:00; the talk until 9 June.
    assert next_permitted_time(facts, "PHONE", ny(2026, 6, 3), US) == ny(2026, 6, 9, 9)


def test_next_call_after_a_hold_with_an_end_waits_for_the_end_and_the_morning():
    facts = cn_case(holds=(Hold("HARDSHIP", since=sh(2026, 5, 1), until=sh(2026, 5, 20, 3)),))
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 13, 12), CN) == sh(2026, 5, 20, 8)


def test_next_call_after_back_to_back_holds():
    facts = cn_case(
        holds=(
            Hold("COMPLAINT", since=sh(2026, 5, 1), until=sh(2026, 5, 14, 12)),
            Hold("HARDSHIP", since=sh(2026, 5, 14, 11), until=sh(2026, 5, 19, 9, 30)),
        )
    )
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 13, 12), CN) == sh(2026, 5, 19, 9, 30)


@pytest.mark.parametrize(
    "facts",
    [
        cn_case(closed=True),
        cn_case(dispute_open=True),
        cn_case(ceased_channels=frozenset({"PHONE"})),
        cn_case(holds=(Hold("DECEASED", since=sh(2026, 1, 1)),)),
        # a hold without end that starts before anything else would be allowed
        cn_case(holds=(Hold("BANKRUPTCY", since=sh(2026, 5, 15, 23)),)),
    ],
    ids=["closed", "dispute", "ceased", "open_ended_hold", "future_open_ended_hold"],
)
def test_no_next_time_when_waiting_lifts_nothing(facts):
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 15, 22, 30), CN) is None


def test_no_next_time_for_a_cn_third_party_before_the_debtor_proved_unreachable():
    assert (
        next_permitted_time(cn_case(), "PHONE", sh(2026, 5, 13, 12), CN, target="THIRD_PARTY")
        is None
    )


def test_inbound_is_permitted_at_once():
    at = sh(2026, 10, 1, 3)
    assert next_permitted_time(cn_case(closed=True), "PHONE", at, CN, direction="INBOUND") == at


def test_next_us_call_on_spring_forward_morning():
    assert next_permitted_time(us_case(), "PHONE", ny(2026, 3, 7, 22), US) == ny(2026, 3, 8, 8)
    # One hour of the night is skipped: nine real hours, not ten wall-clock ones.
    assert ny(2026, 3, 8, 8).astimezone(UTC) - ny(2026, 3, 7, 22).astimezone(UTC) == timedelta(
        hours=9
    )


def test_search_gives_up_beyond_its_horizon():
    # A hold ending 427 days later (a Wednesday): beyond the default 400-day search.
    facts = cn_case(holds=(Hold("HARDSHIP", since=sh(2026, 1, 1), until=sh(2027, 7, 14, 3)),))
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 13), CN) is None
    assert next_permitted_time(facts, "PHONE", sh(2026, 5, 13), CN, search_days=500) == sh(
        2027, 7, 14, 8
    )
