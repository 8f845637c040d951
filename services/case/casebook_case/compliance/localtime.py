"""The debtor's local clock and calendar: wall-clock instants across DST, and rest days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from casebook_case.compliance.profiles import RestDays


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def utc(t: datetime) -> datetime:
    """``t`` in UTC. The rules compute in UTC only: Python adds timedeltas to, and compares,
    datetimes sharing a tzinfo by wall clock, which across a DST change is off by the shift
    (7 days after a Saturday call before spring-forward would be 167 real hours)."""
    return t.astimezone(UTC)


def local(t: datetime, time_zone: str) -> datetime:
    return t.astimezone(zone(time_zone))


def first_instant_at_or_after(day: date, wall: time, time_zone: str) -> datetime:
    """The earliest instant whose local date is ``day`` and local wall time is >= ``wall``.

    On a fall-back day a repeated wall time happens twice and the first occurrence counts; on
    a spring-forward day a wall time inside the gap never happens, and the first instant after
    it is the transition itself.
    """
    tz = zone(time_zone)
    naive = datetime.combine(day, wall)
    candidates = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    earliest, latest = min(candidates), max(candidates)
    if _wall(earliest, tz) == naive:
        return earliest.astimezone(tz)
    # In a gap both readings land on either side of the transition: search between them for
    # the first instant whose wall clock has passed ``wall``.
    lo, hi = earliest, latest
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if _wall(mid, tz) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.astimezone(tz)


def start_of_next_day(t: datetime, time_zone: str) -> datetime:
    return first_instant_at_or_after(
        local(t, time_zone).date() + timedelta(days=1), time(0), time_zone
    )


def is_rest_day(day: date, rest_days: RestDays) -> bool:
    if rest_days.holiday_calendar is None:
        return day.weekday() in rest_days.weekend
    days_off, make_up_workdays = _official_calendar(rest_days.holiday_calendar, day.year)
    if day in days_off:
        return True
    if day.weekday() in rest_days.weekend:
        return not (rest_days.make_up_workdays and day in make_up_workdays)
    return False


@lru_cache(maxsize=128)
def _official_calendar(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Public holidays and official working weekend days of ``year``.

    China moves working days onto weekends around long holidays (调休); the holidays package
    records them in ``weekend_workdays``, filled while populating the year of the holiday they
    compensate, which may be the neighbouring year, hence the three years. For years the State
    Council has not announced yet the package only estimates holidays and knows no make-up
    days, so those weekends count as rest days (the cautious reading).
    """
    calendar = holidays.country_holidays(country, years=range(year - 1, year + 2))
    days_off = frozenset(d for d in calendar if d.year == year)
    workdays = frozenset(d for d in getattr(calendar, "weekend_workdays", ()) if d.year == year)
    return days_off, workdays


def _wall(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None)
