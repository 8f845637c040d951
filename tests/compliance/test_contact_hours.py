from __future__ import annotations

import pytest
from builders import CN, US, call, cn_case, cn_reasons, ny, outbound, sh, us_case, us_reasons

from casebook_case.compliance import check_contact


@pytest.mark.parametrize(
    ("wall", "permitted"),
    [
        ((7, 59, 59), False),
        ((8, 0, 0), True),
        ((21, 59, 59), True),
        ((22, 0, 0), False),
        ((3, 0, 0), False),
    ],
    ids=[
        "0759_59_refused",
        "0800_00_permitted",
        "2159_59_permitted",
        "2200_00_refused",
        "0300_refused",
    ],
)
def test_call_on_a_shanghai_weekday(wall, permitted):
    at = sh(2026, 5, 13, *wall)  # a Wednesday
    expected = [] if permitted else ["OUTSIDE_CONTACT_HOURS"]
    assert cn_reasons(cn_case(), call(at)) == expected


def test_call_at_2159_59_shanghai_is_permitted():
    assert check_contact(cn_case(), call(sh(2026, 5, 13, 21, 59, 59)), CN).permitted


def test_call_at_2200_shanghai_is_refused_until_0800_next_morning():
    decision = check_contact(cn_case(), call(sh(2026, 5, 13, 22)), CN)
    assert not decision.permitted
    assert decision.refusals[0].next_permitted_time == sh(2026, 5, 14, 8)
    assert decision.next_permitted_time == sh(2026, 5, 14, 8)


@pytest.mark.parametrize("day", [(2026, 3, 8), (2026, 11, 1)], ids=["spring_forward", "fall_back"])
@pytest.mark.parametrize(
    ("wall", "permitted"),
    [
        ((7, 59, 59), False),
        ((8, 0, 0), True),
        ((20, 59, 59), True),
        ((21, 0, 0), False),
    ],
    ids=["0759_59", "0800_00", "2059_59", "2100_00"],
)
def test_new_york_call_on_a_dst_change_day(day, wall, permitted):
    at = ny(*day, *wall)
    expected = [] if permitted else ["OUTSIDE_CONTACT_HOURS"]
    assert us_reasons(us_case(), call(at)) == expected


def test_new_york_night_hours_around_the_transition_are_refused():
    # 01:30 happens twice on fall-back day; both are night.
    for fold in (0, 1):
        assert us_reasons(us_case(), call(ny(2026, 11, 1, 1, 30, fold=fold))) == [
            "OUTSIDE_CONTACT_HOURS"
        ]


def test_new_york_call_refused_before_spring_forward_resumes_at_0800_local():
    decision = check_contact(us_case(), call(ny(2026, 3, 8, 1, 0)), US)
    assert decision.next_permitted_time == ny(2026, 3, 8, 8)
    assert decision.next_permitted_time.utcoffset().total_seconds() == -4 * 3600


def test_hours_follow_the_debtors_zone_not_the_callers():
    # 21:30 in Shanghai is 09:30 in New York (EDT): fine for a New York debtor.
    at = sh(2026, 6, 3, 21, 30)
    assert us_reasons(us_case(), call(at)) == []
    at = sh(2026, 6, 3, 9, 30)  # 21:30 in New York the evening before
    assert us_reasons(us_case(), call(at)) == ["OUTSIDE_CONTACT_HOURS"]


@pytest.mark.parametrize(
    ("channel", "refused"),
    [
        ("PHONE", True),
        ("SMS", True),
        ("FIELD_VISIT", True),
        ("EMAIL", False),
        ("LETTER", False),
        ("APP_MESSAGE", False),
    ],
)
def test_night_rule_covers_calls_messages_and_visits(channel, refused):
    expected = ["OUTSIDE_CONTACT_HOURS"] if refused else []
    assert cn_reasons(cn_case(), outbound(channel, sh(2026, 5, 13, 23))) == expected
