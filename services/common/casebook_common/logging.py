"""structlog set-up shared by both services: JSON lines, personal data masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Keys whose values are personal data wherever they appear in a log event.
PERSONAL_KEYS = frozenset(
    {"name", "debtor_name", "phone", "email", "address", "id_number", "national_id"}
)
_PHONE_RE = re.compile(r"\+?\d[\d\- ]{6,}\d")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def mask_value(value: str) -> str:
    """Keep just enough to tell two values apart in an incident: first and last character."""
    if len(value) <= 2:
        return "*" * len(value)
    return f"{value[0]}{'*' * (len(value) - 2)}{value[-1]}"


def mask_text(text: str) -> str:
    """Mask phone numbers and e-mail addresses inside free text (error messages)."""
    text = _EMAIL_RE.sub(lambda m: mask_value(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: mask_value(m.group(0)), text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_value(value)
    if isinstance(value, Mapping):
        return {k: _mask(v) for k, v in value.items()}
    return "***"


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key in PERSONAL_KEYS:
            event_dict[key] = _mask(value)
        elif key == "debtor" and isinstance(value, Mapping):
            event_dict[key] = {k: _mask(v) for k, v in value.items()}
        elif isinstance(value, str) and key in ("error", "detail", "message"):
            event_dict[key] = mask_text(value)
    return event_dict


def configure_logging(service: str, *, fmt: str = "json", level: str = "INFO") -> None:
    """JSON lines by default (containers); fmt='console' for a human at a terminal."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )

    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    structlog.configure(
        processors=[
            add_service,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
