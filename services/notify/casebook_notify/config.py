"""Notify service settings, read from CASEBOOK_* environment variables (see README)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from casebook_common.clock import clock_from_env
from casebook_common.metrics import parse_listen
from casebook_common.security import (
    SecurityConfig,
    SecurityConfigError,
    check_key_pair,
    load_certificates,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    pass


def parse_duration(text: str, name: str) -> timedelta:
    """'3d', '2h', '90s', '500ms'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(f"{name}: {text!r} is not a duration such as 3d, 2h, 90s or 500ms")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class NotifyConfig:
    db_url: str = "sqlite:///var/casebook-notify.db"
    listen: str = "127.0.0.1:50052"
    case_address: str = "127.0.0.1:50051"
    reminder_offsets: tuple[timedelta, ...] = (
        timedelta(days=3),
        timedelta(days=1),
        timedelta(hours=2),
    )
    reminder_channels: tuple[str, ...] = ("SMS", "EMAIL")
    grace: timedelta = timedelta(0)
    tick: timedelta = timedelta(milliseconds=250)
    # How often a standby asks for the leader lock, and the leader checks it still holds it
    # (casebook_notify.leader): a takeover follows a crash within about one poll.
    standby_poll: timedelta = timedelta(seconds=1)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=2)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "collections@casebook.invalid"
    sms_url: str = ""
    alert_webhook_url: str = ""
    log_format: str = "json"
    log_level: str = "INFO"
    shutdown_grace_seconds: float = 5.0
    # host:port of the Prometheus /metrics endpoint (plain HTTP); empty: none.
    metrics_listen: str = ""
    # Its own server: mode, TLS / mutual TLS, bearer tokens (casebook_common.security).
    security: SecurityConfig = field(default_factory=SecurityConfig)
    # As a client of the case service: the CA that signed the case server's certificate
    # (TLS when set), notify's own certificate and key when the case service wants mutual
    # TLS, and the file holding its bearer token (role notify), read again when it changes.
    case_ca_file: str = ""
    case_cert_file: str = ""
    case_key_file: str = ""
    case_token_file: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> NotifyConfig:
        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def duration(name: str, default: timedelta) -> timedelta:
            raw = env.get(name, "").strip()
            return parse_duration(raw, name) if raw else default

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit():
                raise ConfigError(f"{name} must be a whole number, not {raw!r}")
            return int(raw)

        offsets_raw = env.get("CASEBOOK_NOTIFY_REMINDER_OFFSETS", "").strip()
        offsets = (
            tuple(
                parse_duration(p, "CASEBOOK_NOTIFY_REMINDER_OFFSETS")
                for p in offsets_raw.split(",")
                if p.strip()
            )
            if offsets_raw
            else cls.reminder_offsets
        )
        channels = tuple(
            c.strip().upper()
            for c in text("CASEBOOK_NOTIFY_REMINDER_CHANNELS", "SMS,EMAIL").split(",")
            if c.strip()
        )
        unknown = set(channels) - {"SMS", "EMAIL"}
        if unknown:
            raise ConfigError(f"CASEBOOK_NOTIFY_REMINDER_CHANNELS: unknown {sorted(unknown)}")
        config = cls(
            db_url=text("CASEBOOK_NOTIFY_DB_URL", cls.db_url),
            listen=text("CASEBOOK_NOTIFY_LISTEN", cls.listen),
            case_address=text("CASEBOOK_NOTIFY_CASE_ADDRESS", cls.case_address),
            reminder_offsets=offsets,
            reminder_channels=channels,
            grace=duration("CASEBOOK_NOTIFY_GRACE", cls.grace),
            tick=duration("CASEBOOK_NOTIFY_TICK", cls.tick),
            standby_poll=duration("CASEBOOK_NOTIFY_STANDBY_POLL", cls.standby_poll),
            max_attempts=integer("CASEBOOK_NOTIFY_MAX_ATTEMPTS", cls.max_attempts),
            retry_base=duration("CASEBOOK_NOTIFY_RETRY_BASE", cls.retry_base),
            smtp_host=text("CASEBOOK_NOTIFY_SMTP_HOST", cls.smtp_host),
            smtp_port=integer("CASEBOOK_NOTIFY_SMTP_PORT", cls.smtp_port),
            mail_from=text("CASEBOOK_NOTIFY_MAIL_FROM", cls.mail_from),
            sms_url=text("CASEBOOK_NOTIFY_SMS_URL", cls.sms_url),
            alert_webhook_url=text("CASEBOOK_NOTIFY_ALERT_WEBHOOK_URL", cls.alert_webhook_url),
            log_format=text("CASEBOOK_LOG_FORMAT", cls.log_format),
            log_level=text("CASEBOOK_LOG_LEVEL", cls.log_level),
            metrics_listen=text("CASEBOOK_NOTIFY_METRICS_LISTEN", ""),
            security=_security_from_env(env),
            case_ca_file=text("CASEBOOK_NOTIFY_CASE_CA_FILE", ""),
            case_cert_file=text("CASEBOOK_NOTIFY_CASE_CERT_FILE", ""),
            case_key_file=text("CASEBOOK_NOTIFY_CASE_KEY_FILE", ""),
            case_token_file=text("CASEBOOK_NOTIFY_CASE_TOKEN_FILE", ""),
        )
        if not config.db_url.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ConfigError(
                "CASEBOOK_NOTIFY_DB_URL must be a sqlite:/// or postgresql+psycopg:// URL"
            )
        if "SMS" in channels and not config.sms_url:
            raise ConfigError("CASEBOOK_NOTIFY_SMS_URL is required when SMS reminders are on")
        if config.standby_poll <= timedelta(0):
            raise ConfigError("CASEBOOK_NOTIFY_STANDBY_POLL must be longer than 0s")
        if config.metrics_listen:
            try:
                parse_listen("CASEBOOK_NOTIFY_METRICS_LISTEN", config.metrics_listen)
            except ValueError as error:
                raise ConfigError(str(error)) from None
        if config.max_attempts < 1:
            raise ConfigError("CASEBOOK_NOTIFY_MAX_ATTEMPTS must be at least 1")
        try:
            clock_from_env(dict(env))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        _check_case_client(config)
        check_mode(config)
        return config


def _security_from_env(env: Mapping[str, str]) -> SecurityConfig:
    try:
        return SecurityConfig.from_env(env)
    except SecurityConfigError as error:
        raise ConfigError(str(error)) from None


def _check_case_client(config: NotifyConfig) -> None:
    """The credentials notify presents to the case service, readable now."""
    try:
        if bool(config.case_cert_file) != bool(config.case_key_file):
            raise ConfigError(
                "set both CASEBOOK_NOTIFY_CASE_CERT_FILE and CASEBOOK_NOTIFY_CASE_KEY_FILE, "
                "or neither"
            )
        if config.case_cert_file and not config.case_ca_file:
            raise ConfigError(
                "a client certificate (CASEBOOK_NOTIFY_CASE_CERT_FILE) needs TLS to the case "
                "service: set CASEBOOK_NOTIFY_CASE_CA_FILE"
            )
        if config.case_ca_file:
            load_certificates(config.case_ca_file, "CASEBOOK_NOTIFY_CASE_CA_FILE")
        if config.case_cert_file:
            check_key_pair(
                config.case_cert_file,
                config.case_key_file,
                "CASEBOOK_NOTIFY_CASE_CERT_FILE",
                "CASEBOOK_NOTIFY_CASE_KEY_FILE",
            )
        if config.case_token_file and not os.access(config.case_token_file, os.R_OK):
            raise ConfigError(
                f"CASEBOOK_NOTIFY_CASE_TOKEN_FILE: cannot read {config.case_token_file}"
            )
    except SecurityConfigError as error:
        raise ConfigError(str(error)) from None


def production_problems(config: NotifyConfig) -> list[str]:
    """What production mode needs and `config` lacks, one phrase each (empty: it may start)."""
    problems = config.security.production_problems()
    if not config.case_ca_file:
        problems.append("no TLS to the case service (CASEBOOK_NOTIFY_CASE_CA_FILE)")
    if not config.case_token_file:
        problems.append("no token for the case service (CASEBOOK_NOTIFY_CASE_TOKEN_FILE)")
    return problems


def check_mode(config: NotifyConfig) -> None:
    """Production refuses to start without TLS and authentication; development without them
    serves loopback only."""
    try:
        config.security.check_start(
            "CASEBOOK_NOTIFY_LISTEN", config.listen, production_problems(config)
        )
    except SecurityConfigError as error:
        raise ConfigError(str(error)) from None
