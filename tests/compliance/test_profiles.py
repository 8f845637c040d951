from __future__ import annotations

from datetime import time, timedelta

import pytest

from casebook_case.compliance import (
    DEFAULT_PROFILE_ID,
    ProfileError,
    UnknownProfile,
    get_profile,
    profile_ids,
    profile_versions,
)
from casebook_case.compliance.profiles import parse_profile


def test_shipped_profiles():
    assert profile_ids() == ["CN", "US_REG_F"]
    assert DEFAULT_PROFILE_ID == "CN"
    assert profile_versions("CN") == [1]


def test_profile_figures_come_from_the_data_files():
    cn, us = get_profile("CN"), get_profile("US_REG_F")
    assert (cn.contact_hours.start, cn.contact_hours.end) == (time(8), time(22))
    assert (us.contact_hours.start, us.contact_hours.end) == (time(8), time(21))
    assert cn.daily_unanswered_limit.max_unanswered == 6
    assert cn.third_party.min_unreachable_attempts == 3
    assert us.rolling_call_limit.max_calls == 7
    assert us.conversation_cooldown.quiet_period == timedelta(days=7)
    assert (cn.escalation.final_notice_days, us.escalation.final_notice_days) == (15, 30)
    assert us.rest_days is None


def test_unknown_profile_is_a_key_error():
    with pytest.raises(UnknownProfile):
        get_profile("XX")
    with pytest.raises(KeyError):
        get_profile("CN", version=99)


MINIMAL = """
id = "TEST"
version = 2
[third_party]
non_debtor_outcomes = ["THIRD_PARTY"]
[escalation]
final_notice_days = 10
"""


def test_a_minimal_profile_has_no_timed_rules():
    profile = parse_profile(MINIMAL)
    assert (profile.id, profile.version) == ("TEST", 2)
    assert profile.contact_hours is None and profile.rolling_call_limit is None


@pytest.mark.parametrize(
    "broken",
    [
        MINIMAL + "[contact_hours]\nchannels = ['PHONE']\nstart = '08:00'\nend = '22:00'\n"
        "ends = '23:00'\n",
        MINIMAL + "[contact_hours]\nchannels = ['PHONE']\nstart = '22:00'\nend = '08:00'\n",
        MINIMAL + "[contact_hours]\nchannels = ['PIGEON']\nstart = '08:00'\nend = '22:00'\n",
        MINIMAL + "[rest_days]\nchannels = ['PHONE']\nweekend = ['FUNDAY']\n",
        MINIMAL.replace("version = 2", "version = 0"),
        MINIMAL.replace('id = "TEST"', ""),
        "not toml =",
    ],
    ids=[
        "misspelt_key",
        "overnight_window",
        "unknown_channel",
        "unknown_weekday",
        "version_zero",
        "missing_id",
        "not_toml",
    ],
)
def test_broken_profile_data_is_rejected(broken):
    with pytest.raises(ProfileError):
        parse_profile(broken)
