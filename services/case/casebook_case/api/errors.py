"""The one place where domain errors become gRPC statuses, and where every call is logged.

Each RPC handler is wrapped by `unary` or `server_stream`: the wrapper times the call,
maps a refusal to its status code with google.rpc details, hides anything unexpected
behind INTERNAL with an error id, and writes one log line per call.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from eventsourcing.persistence import OperationalError, PersistenceError
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from casebook_case.access_log import AccessLogUnavailable, Reader
from casebook_case.domain.errors import (
    AlreadyExists,
    Contention,
    DomainError,
    InvalidArgument,
    NotFound,
    Refused,
    VersionConflict,
)
from casebook_case.projections.worklist import ProjectionBehind
from casebook_common.logging import mask_text
from casebook_common.security import current_principal

log = structlog.get_logger("casebook.rpc")


class CallTimedOut(Exception):
    """The service's per-call time limit (CASEBOOK_CALL_TIMEOUT_SECONDS) ran out."""


ERROR_DOMAIN = "casebook.v1"


def _status(code: grpc.StatusCode, message: str, *details: Any) -> grpc.Status:
    packed = []
    for detail in details:
        container = any_pb2.Any()
        container.Pack(detail)
        packed.append(container)
    return rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=packed)
    )


def error_info(reason: str, metadata: dict[str, str] | None = None) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {})


def status_for(error: Exception) -> grpc.Status:
    """Domain error -> status with rich details. Messages carry no personal data."""
    if isinstance(error, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        return _status(
            grpc.StatusCode.INVALID_ARGUMENT, "invalid request: " + str(error), bad_request
        )
    if isinstance(error, NotFound):
        return _status(
            grpc.StatusCode.NOT_FOUND,
            str(error),
            error_details_pb2.ResourceInfo(
                resource_type=error.what, resource_name=error.identifier
            ),
        )
    if isinstance(error, AlreadyExists):
        return _status(grpc.StatusCode.ALREADY_EXISTS, str(error), error_info(error.reason))
    if isinstance(error, VersionConflict):
        return _status(
            grpc.StatusCode.ABORTED,
            "the case has changed: read it again and retry with its current version",
            error_info("VERSION_MISMATCH", {"expected_version": str(error.expected)}),
        )
    if isinstance(error, CallTimedOut):
        return _status(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "the call took longer than the service allows; its outcome is unknown: "
            "retry with the same request_id",
        )
    if isinstance(error, Contention):
        return _status(grpc.StatusCode.ABORTED, str(error), error_info("CONTENTION"))
    if isinstance(error, Refused):
        return _status(
            grpc.StatusCode.FAILED_PRECONDITION,
            mask_text(error.message),
            error_info(error.reason, error.metadata),
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type=reason, subject="case", description=mask_text(message)
                    )
                    for reason, message in (error.violations or [(error.reason, error.message)])
                ]
            ),
        )
    if isinstance(error, ProjectionBehind):
        return _status(
            grpc.StatusCode.UNAVAILABLE,
            str(error),
            error_info(
                "PROJECTION_BEHIND",
                {"min_position": str(error.wanted), "position": str(error.reached)},
            ),
            error_details_pb2.RetryInfo(retry_delay={"seconds": 1}),
        )
    if isinstance(error, AccessLogUnavailable):
        return _status(
            grpc.StatusCode.UNAVAILABLE,
            "the read could not be recorded in the access log; retry",
            error_details_pb2.RetryInfo(retry_delay={"seconds": 1}),
        )
    if isinstance(error, OperationalError):
        return _status(
            grpc.StatusCode.UNAVAILABLE,
            "the case store is unavailable; retry with the same request_id",
            error_details_pb2.RetryInfo(retry_delay={"seconds": 1}),
        )
    error_id = uuid.uuid4().hex[:12]
    return _status(grpc.StatusCode.INTERNAL, f"internal error (reference {error_id})")


def _call_fields(request: Any, context: grpc.aio.ServicerContext, method: str) -> dict[str, Any]:
    metadata = dict(context.invocation_metadata() or ())
    return {
        "method": method,
        "request_id": getattr(request, "request_id", "") or metadata.get("x-request-id", ""),
        "case_id": getattr(request, "case_id", ""),
        "actor": actor_of(context),
    }


def reader_of(context: grpc.aio.ServicerContext, via: str) -> Reader:
    """Who reads a case, for the access log."""
    metadata = dict(context.invocation_metadata() or ())
    return Reader(actor_of(context), via, str(metadata.get("x-request-id", ""))[:128])


def actor_of(context: grpc.aio.ServicerContext) -> str:
    """Who is calling: with authentication on, the verified token's subject (whatever the
    metadata says); without it (development), what the caller declares in the
    `x-casebook-actor` metadata."""
    principal = current_principal()
    if principal is not None:
        return principal.subject
    metadata = dict(context.invocation_metadata() or ())
    actor = str(metadata.get("x-casebook-actor", "")).strip()
    return actor[:128] if actor else "anonymous"


async def _fail(
    context: grpc.aio.ServicerContext, fields: dict[str, Any], started: float, error: Exception
) -> None:
    status = status_for(error)
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    if status.code == grpc.StatusCode.INTERNAL or (
        isinstance(error, PersistenceError) and not isinstance(error, DomainError)
    ):
        log.error(
            "rpc",
            status=status.code.name,
            duration_ms=duration_ms,
            detail=status.details,
            error_type=type(error).__name__,
            exc_info=error,
            **fields,
        )
    else:
        log.info("rpc", status=status.code.name, duration_ms=duration_ms, **fields)
    await context.abort(status.code, status.details, status.trailing_metadata)


Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def unary(method: Handler) -> Handler:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        fields = _call_fields(request, context, method.__name__)
        try:
            # A call never holds its caller longer than the service's own limit, whatever
            # deadline the caller set (or did not set). asyncio.timeout, not wait_for: on
            # Python 3.11 wait_for can lose a cancel (see casebook_common.waiting).
            async with asyncio.timeout(getattr(self, "call_timeout", None)):
                response = await method(self, request, context)
        except TimeoutError:
            await _fail(context, fields, started, CallTimedOut())
            raise  # unreachable: abort raises
        except Exception as error:
            await _fail(context, fields, started, error)
            raise  # unreachable: abort raises
        case = getattr(response, "case", None) or response
        fields["case_id"] = fields["case_id"] or getattr(case, "case_id", "")
        log.info(
            "rpc",
            status="OK",
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **fields,
        )
        return response

    return wrapper


def server_stream(method: StreamHandler) -> StreamHandler:
    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        started = time.perf_counter()
        fields = _call_fields(request, context, method.__name__)
        sent = 0
        try:
            async for item in method(self, request, context):
                yield item
                sent += 1
        except Exception as error:
            fields["messages"] = sent
            await _fail(context, fields, started, error)
            raise
        finally:
            if context.cancelled():
                log.info(
                    "rpc",
                    status="CANCELLED",
                    messages=sent,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    **fields,
                )
        log.info(
            "rpc",
            status="OK",
            messages=sent,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **fields,
        )

    return wrapper


def client_stream(method: Handler) -> Handler:
    """For a client-streaming RPC: the same status mapping and log line as `unary`, without
    the per-call time limit (an import lasts as long as its client sends). A client that
    cancels is logged as CANCELLED; what the call had committed by then stays committed."""

    @functools.wraps(method)
    async def wrapper(self: Any, requests: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        fields = _call_fields(None, context, method.__name__)
        try:
            response = await method(self, requests, context)
        except asyncio.CancelledError:
            log.info(
                "rpc",
                status="CANCELLED",
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                **fields,
            )
            raise
        except Exception as error:
            await _fail(context, fields, started, error)
            raise  # unreachable: abort raises
        log.info(
            "rpc",
            status="OK",
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **fields,
        )
        return response

    return wrapper
