from __future__ import annotations

from datetime import date

import holidays
import pytest
from builders import CN, call, cn_case, cn_reasons, outbound, sh, us_case, us_reasons

from casebook_case.compliance import check_contact


def test_the_holidays_package_knows_national_day_and_the_make_up_saturday():
    china = holidays.country_holidays("CN", years=2026)
    assert date(2026, 10, 1) in china
    assert date(2026, 10, 10) in china.weekend_workdays  # a Saturday worked for the holiday


@pytest.mark.parametrize(
    ("day", "rest"),
    [
        ((2026, 5, 13), False),  # an ordinary Wednesday
        ((2026, 5, 16), True),  # Saturday
        ((2026, 5, 17), True),  # Sunday
        ((2026, 10, 1), True),  # National Day, a Thursday
        ((2026, 10, 7), True),  # last day of the Golden Week, a Wednesday
        ((2026, 10, 8), False),  # back to work
        ((2026, 10, 10), False),  # Saturday made a working day to bridge the holiday
        ((2026, 2, 17), True),  # Spring Festival
    ],
    ids=[
        "weekday",
        "saturday",
        "sunday",
        "national_day",
        "golden_week_wednesday",
        "after_golden_week",
        "make_up_saturday",
        "spring_festival",
    ],
)
def test_cn_call_at_noon(day, rest):
    expected = ["REST_DAY"] if rest else []
    assert cn_reasons(cn_case(), call(sh(*day, 12))) == expected


def test_national_day_call_resumes_the_morning_after_the_golden_week():
    decision = check_contact(cn_case(), call(sh(2026, 10, 1, 10)), CN)
    assert decision.refusals[0].reason == "REST_DAY"
    assert decision.next_permitted_time == sh(2026, 10, 8, 8)


@pytest.mark.parametrize(
    ("channel", "refused"),
    [("PHONE", True), ("FIELD_VISIT", True), ("SMS", False), ("EMAIL", False), ("LETTER", False)],
)
def test_rest_day_rule_covers_calls_and_visits_only(channel, refused):
    expected = ["REST_DAY"] if refused else []
    assert cn_reasons(cn_case(), outbound(channel, sh(2026, 10, 1, 10))) == expected


def test_rest_day_is_the_debtors_local_day():
    # Friday 23:30 in New York is Saturday 11:30 in Shanghai: a Shanghai debtor rests.
    from builders import ny

    assert cn_reasons(cn_case(), call(ny(2026, 5, 15, 23, 30))) == ["REST_DAY"]


def test_us_profile_has_no_rest_days():
    assert us_reasons(us_case(), call(sh(2026, 10, 1, 23))) == []  # 11:00 in New York
