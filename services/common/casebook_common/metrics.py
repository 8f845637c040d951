"""Prometheus metrics shared by both services: one registry per server instance, the RPC
metrics every call records (through a server interceptor), and the HTTP endpoint serving
/metrics on a port of its own.

A registry per instance, never prometheus_client's global one: tests run several servers in
one process, and each must count its own calls. Labels carry names from the code (service,
method, status code, event type, channel), never client input, case ids or personal data.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer

from casebook_common.security import _as_stream

# From a millisecond read to the 30 s the service allows a unary call (streams run longer
# and land in +Inf).
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """A service's registry with the process collectors and the RPC metrics; each service
    subclasses it with its own metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.rpcs_handled = Counter(
            "casebook_rpc_handled_total",
            "gRPC calls answered, by service, method and status code",
            ["grpc_service", "grpc_method", "grpc_code"],
            registry=self.registry,
        )
        self.rpc_duration = Histogram(
            "casebook_rpc_duration_seconds",
            "Time from a call's start to its answer (streams: to their end)",
            ["grpc_service", "grpc_method"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> Gauge:
        """A gauge whose value `read` computes at scrape time (on the HTTP server's thread)."""
        gauge = Gauge(name, documentation, registry=self.registry)
        gauge.set_function(read)
        return gauge

    def interceptor(self) -> RpcMetricsInterceptor:
        return RpcMetricsInterceptor(self)

    def record_rpc(self, service: str, method: str, code: str, seconds: float) -> None:
        self.rpcs_handled.labels(service, method, code).inc()
        self.rpc_duration.labels(service, method).observe(seconds)


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every call. An interceptor rather than the per-call log lines
    (api/errors.py, notify's api._answer, security._log_refusal, decoding._refuse): placed
    first, it wraps all of those, so calls refused by authentication or by the decoding check,
    streams (WatchAlerts has no log line) and health/reflection are all counted in one place,
    with the status code gRPC actually sends.

    Method names come from the handler gRPC found for the call, i.e. from the services
    registered on the server: a call to a method the server does not have gets no handler
    (gRPC answers UNIMPLEMENTED) and is not counted, so a client cannot invent label values.
    """

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")

        def record(code: str, seconds: float) -> None:
            self.metrics.record_rpc(service, method, code, seconds)

        return _timed(handler, record)


class _Observed:
    """Times one call and records the status code it ends with."""

    def __init__(self, context: grpc.aio.ServicerContext, record: Callable[[str, float], None]):
        self.context = context
        self.record = record
        self.started = time.perf_counter()

    def __enter__(self) -> _Observed:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        self.record(_code(self.context, error), time.perf_counter() - self.started)


def _code(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    if error is None:  # answered; a handler may have set a code and returned
        code = context.code()
        return code.name if isinstance(code, grpc.StatusCode) else "OK"
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return "DEADLINE_EXCEEDED" if expired else "CANCELLED"
    if isinstance(error, grpc.aio.AbortError):  # context.abort(code, ...)
        code = context.code()
        return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    return "UNKNOWN"  # what gRPC answers for an exception a handler let through


def _timed(handler: grpc.RpcMethodHandler, record: Callable[[str, float], None]) -> Any:
    if handler.unary_unary:
        unary_unary = handler.unary_unary

        async def timed_unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with _Observed(context, record):
                return await unary_unary(request, context)

        return handler._replace(unary_unary=timed_unary_unary)
    if handler.stream_unary:
        stream_unary = handler.stream_unary

        async def timed_stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            with _Observed(context, record):
                return await stream_unary(requests, context)

        return handler._replace(stream_unary=timed_stream_unary)
    if handler.unary_stream:
        unary_stream = handler.unary_stream

        async def timed_unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with _Observed(context, record):
                async for item in _as_stream(unary_stream(request, context)):
                    yield item

        return handler._replace(unary_stream=timed_unary_stream)
    if handler.stream_stream:
        stream_stream = handler.stream_stream

        async def timed_stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            with _Observed(context, record):
                async for item in _as_stream(stream_stream(requests, context)):
                    yield item

        return handler._replace(stream_stream=timed_stream_stream)
    return handler


# ------------------------------------------------------------------------- the endpoint
def parse_listen(variable: str, listen: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets; port 0 picks a free one), or ValueError naming
    `variable`."""
    host, separator, port = listen.strip().rpartition(":")
    host = host.strip("[]")
    if not separator or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{variable} must be host:port (e.g. 0.0.0.0:9464), not {listen!r}")
    return host, int(port)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: one every few seconds would drown the call log."""


class MetricsServer:
    """/metrics of one registry over plain HTTP, served by a thread of its own (a slow
    scrape never holds up the gRPC event loop). The page holds counts and timings only."""

    def __init__(self, registry: CollectorRegistry, listen: str) -> None:
        host, port = parse_listen("metrics listen address", listen)
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]

        class Server(ThreadingWSGIServer):
            address_family = family

        self._httpd = make_server(host, port, make_wsgi_app(registry), Server, _Quiet)
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most this long
            name="casebook-metrics",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def serve_metrics(registry: CollectorRegistry, listen: str) -> MetricsServer | None:
    """The endpoint when `listen` is set (None when it is empty); OSError when the address
    cannot be bound."""
    return MetricsServer(registry, listen) if listen.strip() else None
