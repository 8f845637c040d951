"""datetime <-> google.protobuf.Timestamp, one way for every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def utc(value: datetime | None) -> datetime | None:
    """The same instant in UTC; a naive datetime is taken as UTC, as SQLite hands them back
    (every time in casebook is UTC). None stays None."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """None stays None (the field is left unset); a naive datetime is UTC (see utc)."""
    aware = utc(value)
    if aware is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(aware)
    return stamp
