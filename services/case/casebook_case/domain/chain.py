"""The hash chain of a case's history.

Each event is sealed with the SHA-256 of a canonical document of everything stored for it
(topic, class version, case id, version, times, actor, request, payload) and the hash of
the case's previous event. Changing, removing, reordering or inserting a stored event
therefore shows at the first version it touches. Re-sealing a whole tail of the chain
shows only against a head saved earlier: that is what ledger digests are for.

Documents are built from the event as it was written, before any upcasting, so events
written by an older class version still verify after the class changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from casebook_case.domain.canonical import canonical_json

GENESIS = ""  # the previous_hash of a case's first event

# Fields of the stored event that the document shows on their own, not in the payload.
_ENVELOPE = {
    "timestamp": "recorded_at",
    "occurred_at": "occurred_at",
    "actor": "actor",
    "request_id": "request_id",
    "request_fingerprint": "request_fingerprint",
    "previous_hash": "previous_hash",
}
# Never part of the document: the seal itself, and what the store keeps in its own columns.
_NOT_SEALED = frozenset({"hash", "class_version", "originator_id", "originator_version"})


def sealed_document(
    topic: str, class_version: int, case_id: str, version: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """What an event's hash is computed over. A missing field shows as null, so a field
    removed from a stored event changes the document too."""
    document: dict[str, Any] = {
        "topic": topic,
        "class_version": class_version,
        "case_id": case_id,
        "version": version,
    }
    for field, name in _ENVELOPE.items():
        document[name] = fields.get(field)
    document["payload"] = {
        k: v for k, v in fields.items() if k not in _ENVELOPE and k not in _NOT_SEALED
    }
    return document


def seal(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


@dataclass(frozen=True)
class StoredCaseEvent:
    """One stored event as written: its columns and its decoded (not upcast) fields."""

    case_id: str
    version: int
    topic: str
    fields: dict[str, Any]

    @property
    def class_version(self) -> int:
        return int(self.fields.get("class_version", 1))

    def document(self) -> dict[str, Any]:
        return sealed_document(
            self.topic, self.class_version, self.case_id, self.version, self.fields
        )

    def computed_hash(self) -> str:
        return seal(self.document())


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    event_count: int
    head_hash: str  # the recomputed hash of the last event; empty when the chain is broken
    first_bad_version: int = 0  # 0 when ok
    problem: str = ""


def verify_chain(events: Iterable[StoredCaseEvent]) -> ChainReport:
    """Recompute a case's chain from its stored events, in version order; report the first
    version that cannot be trusted and why."""
    count = 0
    previous: StoredCaseEvent | None = None
    previous_hash = GENESIS
    failure: tuple[int, str] | None = None
    for event in events:
        count += 1
        if failure is None:
            failure = _check(event, previous, previous_hash, expected_version=count)
            previous, previous_hash = event, event.computed_hash()
    if failure is not None:
        return ChainReport(False, count, "", max(failure[0], 1), failure[1])
    return ChainReport(True, count, previous_hash)


def _check(
    event: StoredCaseEvent,
    previous: StoredCaseEvent | None,
    previous_hash: str,
    expected_version: int,
) -> tuple[int, str] | None:
    if event.version != expected_version:
        if event.version > expected_version:
            return expected_version, f"version {expected_version} is missing"
        return expected_version, f"unexpected version {event.version} before {expected_version}"
    intact = event.fields.get("hash") == event.computed_hash()
    if event.fields.get("previous_hash") != previous_hash:
        if intact and previous is not None:
            # This event is intact, so it names its predecessor's true hash: the
            # predecessor was rewritten and sealed again.
            return previous.version, (
                f"version {previous.version} was rewritten: version {event.version} "
                "names a different hash for it"
            )
        return event.version, f"version {event.version} does not follow the version before it"
    if not intact:
        return event.version, f"version {event.version} does not match its hash"
    return None
