"""datetime <-> google.protobuf.Timestamp, one way for every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """None stays None (the field is left unset). A naive datetime is taken as UTC, as
    SQLite hands them back; every time in casebook is UTC."""
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    stamp = Timestamp()
    stamp.FromDatetime(aware)
    return stamp
