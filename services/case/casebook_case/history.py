"""How case events are shown to the outside: type name, common fields, canonical payload."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from eventsourcing.utils import get_topic

from casebook_case.domain.case import Case

# Fields every case event has, shown on their own rather than in the payload.
_ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "occurred_at",
        "request_id",
        "request_fingerprint",
    }
)

CASE_EVENT_CLASSES: dict[str, type[Case.Event]] = {
    name: value
    for name, value in vars(Case).items()
    if isinstance(value, type) and issubclass(value, Case.Event) and value is not Case.Event
}
CASE_EVENT_TOPICS: tuple[str, ...] = tuple(get_topic(c) for c in CASE_EVENT_CLASSES.values())


def event_type(event: Case.Event) -> str:
    return type(event).__name__


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def event_payload(event: Case.Event) -> dict[str, Any]:
    return {k: _canonical(v) for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same event always gives the same string."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
