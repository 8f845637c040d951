"""Notify's connection to the case service, the one place its channel is built: TLS when a
CA is configured (with notify's client certificate for mutual TLS), and its bearer token on
every call, read again from its file whenever the file changes (rotation without restart)."""

from __future__ import annotations

import time
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from casebook_common.security import TokenFile, bearer_token_interceptors, channel_credentials
from casebook_notify.config import NotifyConfig

REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
# Every due reminder of a tick meets the same refusal: one line per kind every so often.
REFUSAL_LOG_EVERY_SECONDS = 30.0
_last_logged: dict[tuple[str, str, str], float] = {}


def case_channel(config: NotifyConfig) -> grpc.aio.Channel:
    interceptors = (
        bearer_token_interceptors(TokenFile(config.case_token_file))
        if config.case_token_file
        else []
    )
    if config.case_ca_file:
        credentials = channel_credentials(
            config.case_ca_file, config.case_cert_file, config.case_key_file
        )
        return grpc.aio.secure_channel(config.case_address, credentials, interceptors=interceptors)
    return grpc.aio.insecure_channel(config.case_address, interceptors=interceptors)


def refused_reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason of a refused call (e.g. TOKEN_EXPIRED), "" when there is none."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def log_if_refused(log: Any, error: grpc.aio.AioRpcError, call: str) -> bool:
    """The case service refused notify's credentials: say so plainly (an operator must fix
    the token or the certificate; retrying alone will not). Returns whether it was that."""
    if error.code() not in REFUSALS:
        return False
    reason = refused_reason(error)
    key = (call, error.code().name, reason)
    now = time.monotonic()
    if now - _last_logged.get(key, -REFUSAL_LOG_EVERY_SECONDS) >= REFUSAL_LOG_EVERY_SECONDS:
        _last_logged[key] = now
        log.error(
            "case_service_refused_credentials",
            call=call,
            code=error.code().name,
            reason=reason,
            hint="check CASEBOOK_NOTIFY_CASE_TOKEN_FILE (role notify) and its expiry",
        )
    return True
