"""Canonical JSON: one text per value (sorted keys, UTC times, no spaces), so hashes and
payloads shown to callers are the same wherever they are computed."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

_PLAIN = frozenset({str, int, float, bool, type(None)})


def canonical(value: Any) -> Any:
    """Plain JSON values: dataclasses as their fields, times as RFC 3339 UTC with a Z."""
    if type(value) in _PLAIN:  # most values: every event is sealed with this, so first
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same value always gives the same string."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
