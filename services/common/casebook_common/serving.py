"""What every casebook gRPC process does the same way: standard health and reflection
services, running until SIGTERM/SIGINT, and refusing bad configuration without a traceback."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

Config = TypeVar("Config")


def add_health_and_reflection(server: grpc.aio.Server, service_name: str) -> HealthServicer:
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            service_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return health


async def mark_serving(health: HealthServicer, service_name: str) -> None:
    for name in ("", service_name):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)


async def run_until_signalled(
    log: Any, stop: Callable[[], Awaitable[None]], grace_seconds: float
) -> None:
    """Wait for SIGTERM or SIGINT, then stop gracefully (calls in flight finish). A stop
    that overruns its grace by STOP_OVERRUN_SECONDS writes every thread's stack to stderr
    and exits 70: an orchestrator must never wait on a hung process."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping", grace_seconds=grace_seconds)
    watchdog = threading.Timer(grace_seconds + STOP_OVERRUN_SECONDS, _hung_stop, args=(log,))
    watchdog.daemon = True
    watchdog.start()
    await stop()
    log.info("stopped")


STOP_OVERRUN_SECONDS = 10.0


def _hung_stop(log: Any) -> None:
    log.error("stop_overran_grace")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(70)


def run_main(
    program: str,
    load: Callable[[], Config],
    config_error: type[Exception],
    serve: Callable[[Config], Awaitable[None]],
) -> None:
    """Load the configuration (a bad one exits 2 with one line, no traceback), then serve."""
    try:
        config = load()
        asyncio.run(serve(config))
    except config_error as error:  # also what only shows at start: a port, a key, the store
        print(f"{program}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
