"""How case events are shown to the outside: type name, common fields, canonical payload."""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic

from casebook_case.domain.canonical import canonical
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
        "previous_hash",
        "hash",
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


def event_payload(event: Case.Event) -> dict[str, Any]:
    return {k: canonical(v) for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}
