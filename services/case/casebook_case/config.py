"""Case service settings, read from CASEBOOK_* environment variables (see README)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from casebook_case.signing import Signer, SigningKeyError
from casebook_common.clock import clock_from_env
from casebook_common.metrics import parse_listen
from casebook_common.security import SecurityConfig, SecurityConfigError


class ConfigError(ValueError):
    pass


def cipher_key_from_env(env: Mapping[str, str]) -> str:
    """CASEBOOK_CIPHER_KEY, or the content of CASEBOOK_CIPHER_KEY_FILE (a mounted secret)."""
    key = env.get("CASEBOOK_CIPHER_KEY", "").strip()
    path = env.get("CASEBOOK_CIPHER_KEY_FILE", "").strip()
    if key and path:
        raise ConfigError("set CASEBOOK_CIPHER_KEY or CASEBOOK_CIPHER_KEY_FILE, not both")
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as error:
            raise ConfigError(f"CASEBOOK_CIPHER_KEY_FILE: cannot read {path}: {error}") from None
    if key:
        try:
            size = len(base64.b64decode(key, validate=True))
        except (binascii.Error, ValueError):
            size = 0
        if size not in (16, 24, 32):
            raise ConfigError("the cipher key must be base64 of 16, 24 or 32 random bytes")
    return key


@dataclass(frozen=True)
class CaseConfig:
    db_url: str = "sqlite:///var/casebook-case.db"
    listen: str = "127.0.0.1:50051"
    log_format: str = "json"
    log_level: str = "INFO"
    default_profile: str = "CN"
    approval_limit_minor: int = 50_000
    cache_size: int = 1000
    # Store calls at once. More threads only wait on each other: writes take the event log's
    # lock one at a time, and every thread shares one GIL (make bench: 16 threads made a
    # LogContact over gRPC cost 30-50 % more CPU on PostgreSQL than 4 or 8).
    worker_threads: int = 8
    shutdown_grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    call_timeout_seconds: float = 30.0  # the longest a unary call may take; 0: no limit
    # How long ListCases waits for the worklist to reach a min_position before UNAVAILABLE.
    projection_wait_seconds: float = 5.0
    ledger_key_file: str = ""  # Ed25519 private key (PEM) that signs ledger digests
    # host:port of the Prometheus /metrics endpoint (plain HTTP); empty: none.
    metrics_listen: str = ""
    # AES key (base64 of 16, 24 or 32 bytes) that encrypts every stored event and snapshot,
    # so personal data is never in the database in clear; empty: stored unencrypted.
    cipher_key: str = field(default="", repr=False)
    # Mode, TLS / mutual TLS and bearer-token settings (CASEBOOK_MODE, CASEBOOK_TLS_*,
    # CASEBOOK_JWT_*): see casebook_common.security.
    security: SecurityConfig = field(default_factory=SecurityConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CaseConfig:
        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: float, kind: type = int) -> object:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {raw!r}") from None
            if value < 0:
                raise ConfigError(f"{name} must not be negative")
            return value

        config = cls(
            db_url=text("CASEBOOK_CASE_DB_URL", cls.db_url),
            listen=text("CASEBOOK_CASE_LISTEN", cls.listen),
            log_format=text("CASEBOOK_LOG_FORMAT", cls.log_format),
            log_level=text("CASEBOOK_LOG_LEVEL", cls.log_level),
            default_profile=text("CASEBOOK_DEFAULT_PROFILE", cls.default_profile),
            approval_limit_minor=number(  # type: ignore[arg-type]
                "CASEBOOK_ARRANGEMENT_APPROVAL_LIMIT_MINOR", cls.approval_limit_minor
            ),
            cache_size=number("CASEBOOK_CASE_CACHE_SIZE", cls.cache_size),  # type: ignore[arg-type]
            worker_threads=number("CASEBOOK_CASE_WORKER_THREADS", cls.worker_threads),  # type: ignore[arg-type]
            shutdown_grace_seconds=number(  # type: ignore[arg-type]
                "CASEBOOK_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, float
            ),
            max_message_bytes=number("CASEBOOK_MAX_MESSAGE_BYTES", cls.max_message_bytes),  # type: ignore[arg-type]
            call_timeout_seconds=number(  # type: ignore[arg-type]
                "CASEBOOK_CALL_TIMEOUT_SECONDS", cls.call_timeout_seconds, float
            ),
            projection_wait_seconds=number(  # type: ignore[arg-type]
                "CASEBOOK_PROJECTION_WAIT_SECONDS", cls.projection_wait_seconds, float
            ),
            ledger_key_file=text("CASEBOOK_LEDGER_KEY_FILE", ""),
            metrics_listen=text("CASEBOOK_CASE_METRICS_LISTEN", ""),
            cipher_key=cipher_key_from_env(env),
            security=security_from_env(env),
        )
        if config.log_format not in ("json", "console"):
            raise ConfigError("CASEBOOK_LOG_FORMAT must be json or console")
        if not config.db_url.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ConfigError(
                "CASEBOOK_CASE_DB_URL must be a sqlite:/// or postgresql+psycopg:// URL"
            )
        if config.metrics_listen:
            try:
                parse_listen("CASEBOOK_CASE_METRICS_LISTEN", config.metrics_listen)
            except ValueError as error:
                raise ConfigError(str(error)) from None
        if config.worker_threads < 1:
            raise ConfigError("CASEBOOK_CASE_WORKER_THREADS must be at least 1")
        if config.ledger_key_file:
            try:
                Signer.from_file(config.ledger_key_file)
            except SigningKeyError as error:
                raise ConfigError(f"CASEBOOK_LEDGER_KEY_FILE: {error}") from None
        try:
            clock_from_env(dict(env))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        check_mode(config)
        return config


def security_from_env(env: Mapping[str, str]) -> SecurityConfig:
    try:
        return SecurityConfig.from_env(env)
    except SecurityConfigError as error:
        raise ConfigError(str(error)) from None


def production_problems(config: CaseConfig) -> list[str]:
    """What production mode needs and `config` lacks, one phrase each (empty: it may start)."""
    problems = config.security.production_problems()
    if not config.cipher_key:
        problems.append(
            "no cipher key for personal data at rest (CASEBOOK_CIPHER_KEY or "
            "CASEBOOK_CIPHER_KEY_FILE)"
        )
    return problems


def check_mode(config: CaseConfig) -> None:
    """Production refuses to start without TLS and authentication; development without them
    serves loopback only."""
    try:
        config.security.check_start(
            "CASEBOOK_CASE_LISTEN", config.listen, production_problems(config)
        )
    except SecurityConfigError as error:
        raise ConfigError(str(error)) from None
