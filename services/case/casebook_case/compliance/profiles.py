"""Compliance profiles: the numbers of each jurisdiction's conduct rules, kept as data.

A profile is a TOML file in ``profile_data/`` carrying its own ``id`` and ``version``. Rules
change (a regulator revises a guideline), so a revision is a new file with a higher version
rather than an edit: decisions record the profile version they were made under and an old one
can still be loaded to explain them. ``get_profile(id)`` gives the newest version.

Parsing is strict (unknown keys are errors) because a misspelt key would otherwise silently
switch a rule off. A missing optional section means the jurisdiction has no such rule.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from casebook_case.compliance.facts import CHANNELS

DEFAULT_PROFILE_ID = "CN"
_DATA_PACKAGE = "casebook_case.compliance.profile_data"

_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class UnknownProfile(KeyError):
    """No profile with that id (or id and version) is shipped."""


class ProfileError(ValueError):
    """A profile file does not describe a valid profile."""


@dataclass(frozen=True)
class ContactHours:
    channels: frozenset[str]
    start: time  # first permitted local wall-clock time
    end: time  # first refused local wall-clock time


@dataclass(frozen=True)
class RestDays:
    channels: frozenset[str]
    weekend: frozenset[int]  # date.weekday() numbers
    holiday_calendar: str | None  # country code for holidays.country_holidays
    make_up_workdays: bool  # an official working weekend day is not a rest day


@dataclass(frozen=True)
class DailyUnansweredLimit:
    channels: frozenset[str]
    max_unanswered: int  # per channel per debtor-local day
    unanswered_outcomes: frozenset[str]


@dataclass(frozen=True)
class RollingCallLimit:
    channels: frozenset[str]
    max_calls: int
    window: timedelta


@dataclass(frozen=True)
class ConversationCooldown:
    channels: frozenset[str]  # calls blocked after a conversation
    conversation_channels: frozenset[str]
    conversation_outcomes: frozenset[str]
    quiet_period: timedelta


@dataclass(frozen=True)
class ThirdPartyPolicy:
    non_debtor_outcomes: frozenset[str]  # outcomes meaning someone else was reached
    min_unreachable_attempts: int  # 0: third parties may be contacted any time
    unreachable_outcomes: frozenset[str]


@dataclass(frozen=True)
class EscalationPolicy:
    final_notice_days: int
    final_notice_required_for: frozenset[str]
    blocked_by_dispute: frozenset[str]
    blocked_by_hold: frozenset[str]


@dataclass(frozen=True)
class Profile:
    id: str
    version: int
    title: str
    sources: tuple[str, ...]
    third_party: ThirdPartyPolicy
    escalation: EscalationPolicy
    contact_hours: ContactHours | None = None
    rest_days: RestDays | None = None
    daily_unanswered_limit: DailyUnansweredLimit | None = None
    rolling_call_limit: RollingCallLimit | None = None
    conversation_cooldown: ConversationCooldown | None = None


def get_profile(profile_id: str, version: int | None = None) -> Profile:
    """The profile with that id, its newest version unless ``version`` is given."""
    versions = _shipped_profiles().get(profile_id)
    if not versions:
        raise UnknownProfile(profile_id)
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        raise UnknownProfile(f"{profile_id} v{version}")
    return versions[version]


def profile_ids() -> list[str]:
    return sorted(_shipped_profiles())


def profile_versions(profile_id: str) -> list[int]:
    versions = _shipped_profiles().get(profile_id)
    if not versions:
        raise UnknownProfile(profile_id)
    return sorted(versions)


def parse_profile(text: str) -> Profile:
    """Build a profile from TOML text (the format of the files in ``profile_data/``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(str(e)) from e
    return _profile(data)


@lru_cache(maxsize=1)
def _shipped_profiles() -> dict[str, dict[int, Profile]]:
    found: dict[str, dict[int, Profile]] = {}
    for entry in resources.files(_DATA_PACKAGE).iterdir():
        if not entry.name.endswith(".toml"):
            continue
        try:
            profile = parse_profile(entry.read_text(encoding="utf-8"))
        except ProfileError as e:
            raise ProfileError(f"{entry.name}: {e}") from e
        versions = found.setdefault(profile.id, {})
        if profile.version in versions:
            raise ProfileError(f"{entry.name}: {profile.id} v{profile.version} defined twice")
        versions[profile.version] = profile
    return found


# --- parsing -------------------------------------------------------------------------------


def _profile(data: dict[str, Any]) -> Profile:
    sections = {
        "contact_hours": _contact_hours,
        "rest_days": _rest_days,
        "daily_unanswered_limit": _daily_unanswered_limit,
        "rolling_call_limit": _rolling_call_limit,
        "conversation_cooldown": _conversation_cooldown,
        "third_party": _third_party,
        "escalation": _escalation,
    }
    _only_keys("profile", data, {"id", "version", "title", "sources", *sections})
    for required in ("id", "version", "third_party", "escalation"):
        if required not in data:
            raise ProfileError(f"profile: missing {required!r}")
    version = data["version"]
    if not isinstance(version, int) or version < 1:
        raise ProfileError("profile: version must be a positive integer")
    parsed = {
        name: build(_table(name, data[name])) for name, build in sections.items() if name in data
    }
    return Profile(
        id=_string("id", data["id"]),
        version=version,
        title=_string("title", data.get("title", "")),
        sources=tuple(_strings("sources", data.get("sources", []))),
        **parsed,
    )


def _contact_hours(t: dict[str, Any]) -> ContactHours:
    _only_keys("contact_hours", t, {"channels", "start", "end"})
    start, end = _clock("contact_hours.start", t["start"]), _clock("contact_hours.end", t["end"])
    if not start < end:
        # Overnight windows are not needed by any jurisdiction yet; refusing them keeps the
        # next-permitted-time arithmetic simple.
        raise ProfileError("contact_hours: start must be before end")
    return ContactHours(_channels("contact_hours", t), start, end)


def _rest_days(t: dict[str, Any]) -> RestDays:
    _only_keys("rest_days", t, {"channels", "weekend", "holiday_calendar", "make_up_workdays"})
    weekend = []
    for name in _strings("rest_days.weekend", t.get("weekend", [])):
        if name not in _WEEKDAYS:
            raise ProfileError(f"rest_days.weekend: unknown day {name!r}")
        weekend.append(_WEEKDAYS.index(name))
    calendar = t.get("holiday_calendar")
    return RestDays(
        channels=_channels("rest_days", t),
        weekend=frozenset(weekend),
        holiday_calendar=None if calendar is None else _string("holiday_calendar", calendar),
        make_up_workdays=_bool("rest_days.make_up_workdays", t.get("make_up_workdays", False)),
    )


def _daily_unanswered_limit(t: dict[str, Any]) -> DailyUnansweredLimit:
    _only_keys("daily_unanswered_limit", t, {"channels", "max_unanswered", "unanswered_outcomes"})
    return DailyUnansweredLimit(
        channels=_channels("daily_unanswered_limit", t),
        max_unanswered=_count("daily_unanswered_limit.max_unanswered", t["max_unanswered"]),
        unanswered_outcomes=frozenset(_strings("unanswered_outcomes", t["unanswered_outcomes"])),
    )


def _rolling_call_limit(t: dict[str, Any]) -> RollingCallLimit:
    _only_keys("rolling_call_limit", t, {"channels", "max_calls", "window_days"})
    return RollingCallLimit(
        channels=_channels("rolling_call_limit", t),
        max_calls=_count("rolling_call_limit.max_calls", t["max_calls"]),
        window=timedelta(days=_count("rolling_call_limit.window_days", t["window_days"])),
    )


def _conversation_cooldown(t: dict[str, Any]) -> ConversationCooldown:
    keys = {"channels", "conversation_channels", "conversation_outcomes", "quiet_days"}
    _only_keys("conversation_cooldown", t, keys)
    return ConversationCooldown(
        channels=_channels("conversation_cooldown", t),
        conversation_channels=_channels("conversation_cooldown", t, "conversation_channels"),
        conversation_outcomes=frozenset(
            _strings("conversation_outcomes", t["conversation_outcomes"])
        ),
        quiet_period=timedelta(days=_count("conversation_cooldown.quiet_days", t["quiet_days"])),
    )


def _third_party(t: dict[str, Any]) -> ThirdPartyPolicy:
    keys = {"non_debtor_outcomes", "min_unreachable_attempts", "unreachable_outcomes"}
    _only_keys("third_party", t, keys)
    return ThirdPartyPolicy(
        non_debtor_outcomes=frozenset(_strings("non_debtor_outcomes", t["non_debtor_outcomes"])),
        min_unreachable_attempts=_count(
            "third_party.min_unreachable_attempts", t.get("min_unreachable_attempts", 0), zero=True
        ),
        unreachable_outcomes=frozenset(
            _strings("unreachable_outcomes", t.get("unreachable_outcomes", []))
        ),
    )


def _escalation(t: dict[str, Any]) -> EscalationPolicy:
    keys = {
        "final_notice_days",
        "final_notice_required_for",
        "blocked_by_dispute",
        "blocked_by_hold",
    }
    _only_keys("escalation", t, keys)
    return EscalationPolicy(
        final_notice_days=_count("escalation.final_notice_days", t["final_notice_days"], zero=True),
        final_notice_required_for=frozenset(
            _strings("final_notice_required_for", t.get("final_notice_required_for", []))
        ),
        blocked_by_dispute=frozenset(
            _strings("blocked_by_dispute", t.get("blocked_by_dispute", []))
        ),
        blocked_by_hold=frozenset(_strings("blocked_by_hold", t.get("blocked_by_hold", []))),
    )


def _only_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown}")


def _table(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProfileError(f"{name}: expected a table")
    return value


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ProfileError(f"{name}: expected a string")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(f"{name}: expected true or false")
    return value


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{name}: expected a list of strings")
    return value


def _channels(where: str, table: dict[str, Any], key: str = "channels") -> frozenset[str]:
    channels = frozenset(_strings(f"{where}.{key}", table[key]))
    unknown = sorted(channels - CHANNELS)
    if unknown:
        raise ProfileError(f"{where}.{key}: unknown channels {unknown}")
    return channels


def _count(name: str, value: Any, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        raise ProfileError(f"{name}: expected a {'non-negative' if zero else 'positive'} integer")
    return value


def _clock(name: str, value: Any) -> time:
    # Strings ("08:00") rather than TOML local times, which would also accept seconds and
    # fractions that no regulation uses.
    try:
        hours, minutes = _string(name, value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as e:
        raise ProfileError(f"{name}: expected HH:MM") from e
