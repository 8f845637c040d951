"""Callers of a secured service: a stub per token, and the log events of this process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import structlog

from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_common.security import AGENT, AUDITOR, NOTIFY, SUPERVISOR, SYSTEM
from tests.security.pki import Pki
from tests.support import client_channel

ROLES = (AGENT, SUPERVISOR, AUDITOR, SYSTEM, NOTIFY)


class Callers:
    """One stub per role (subject `<role>-1`) to a secured case service, over mutual TLS."""

    def __init__(self, pki: Pki, port: int) -> None:
        self.pki = pki
        self.target = f"127.0.0.1:{port}"
        self.channels: list[grpc.Channel] = []

    def stub(self, token: str = "", credentials: Any = None) -> rpc.CaseServiceStub:
        channel = client_channel(self.target, credentials or self.pki.credentials(), token)
        self.channels.append(channel)
        return rpc.CaseServiceStub(channel)

    def as_role(self, role: str, subject: str = "") -> rpc.CaseServiceStub:
        return self.stub(self.pki.token(subject or f"{role}-1", role))

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """Every log event of this process (all threads) at INFO and above, as dicts."""
    capture = structlog.testing.LogCapture()
    previous = structlog.get_config()
    structlog.configure(
        processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**previous)
