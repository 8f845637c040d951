"""Request bodies that are not the method's message, or that carry text with NUL characters
(which PostgreSQL cannot store), are the caller's mistake: INVALID_ARGUMENT, not the
INTERNAL/UNKNOWN that gRPC or the database would otherwise answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

log = structlog.get_logger("casebook.rpc")


class _Unreadable:
    """Stands for a request body that did not decode."""


UNREADABLE = _Unreadable()


def _safe(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except Exception:  # any decoding failure is a malformed request
            return UNREADABLE
        return UNREADABLE if _has_nul(message) else message

    return decode


def _has_nul(message: Message) -> bool:
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            if any("\x00" in text for text in values):
                return True
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                values = list(value.values()) if hasattr(value, "values") else []
                if any(isinstance(v, str) and "\x00" in v for v in values):
                    return True
                if any(isinstance(v, Message) and _has_nul(v) for v in values):
                    return True
            elif any(_has_nul(v) for v in values):
                return True
    return False


async def _refuse(context: grpc.aio.ServicerContext, method: str) -> None:
    log.info("rpc", method=method.rsplit("/", 1)[-1], status="INVALID_ARGUMENT",
             detail="request body is not a valid message")  # fmt: skip
    await context.abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        "the request body is not a valid message for this method (or its text holds NUL)",
    )


class RejectUnreadableRequests(grpc.aio.ServerInterceptor):
    """Decode requests without ever raising; answer INVALID_ARGUMENT for what does not decode."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = handler_call_details.method
        safe = _safe(handler.request_deserializer)
        if handler.unary_unary:
            return handler._replace(
                request_deserializer=safe, unary_unary=_unary(handler.unary_unary, method)
            )
        if handler.unary_stream:
            return handler._replace(
                request_deserializer=safe, unary_stream=_streaming(handler.unary_stream, method)
            )
        if handler.stream_unary:
            return handler._replace(
                request_deserializer=safe, stream_unary=_streamed(handler.stream_unary, method)
            )
        return handler


def _unary(behaviour: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Any]:
    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if request is UNREADABLE:
            await _refuse(context, method)
        return await behaviour(request, context)

    return checked


def _streaming(behaviour: Callable[..., AsyncIterator[Any]], method: str) -> Callable[..., Any]:
    async def checked(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if request is UNREADABLE:
            await _refuse(context, method)
        async for response in behaviour(request, context):
            yield response

    return checked


def _streamed(behaviour: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Any]:
    async def checked(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
        async def readable() -> AsyncIterator[Any]:
            async for request in requests:
                if request is UNREADABLE:
                    await _refuse(context, method)
                yield request

        return await behaviour(readable(), context)

    return checked
