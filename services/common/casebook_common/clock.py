"""The clock every business rule reads, so tests can set the time instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class OffsetClock:
    """Real time shifted by a fixed offset: end-to-end tests and demos run both services at a
    chosen business time (say, a Monday morning in Shanghai) while real seconds pass, and a
    restarted process agrees with the one before it."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


CLOCK_OFFSET_ENV = "CASEBOOK_CLOCK_OFFSET_SECONDS"


def clock_from_env(env: dict[str, str] | None = None) -> Clock:
    """SystemClock, unless CASEBOOK_CLOCK_OFFSET_SECONDS shifts it (tests and demos only)."""
    import os

    raw = (env if env is not None else os.environ).get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return SystemClock()
    try:
        return OffsetClock(timedelta(seconds=float(raw)))
    except ValueError:
        raise ValueError(f"{CLOCK_OFFSET_ENV} must be a number of seconds, not {raw!r}") from None
