"""The case service process: gRPC (aio) with health and reflection, graceful on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from casebook.v1 import case_service_pb2, case_service_pb2_grpc
from casebook_case.api.follow import LogWatcher
from casebook_case.api.servicer import CaseServicer
from casebook_case.application import CaseApplication
from casebook_case.commands import Policy
from casebook_case.config import CaseConfig, ConfigError
from casebook_common.clock import Clock, clock_from_env
from casebook_common.logging import configure_logging

log = structlog.get_logger("casebook.case")
SERVICE_NAME = case_service_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    app: CaseApplication
    health: HealthServicer
    watcher: LogWatcher

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let calls in flight finish within `grace`, then close."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.watcher.stop()
        self.app.close()


def build_application(config: CaseConfig, clock: Clock | None = None) -> CaseApplication:
    return CaseApplication(
        config.db_url,
        clock=clock or clock_from_env(),
        policy=Policy(
            approval_limit_minor=config.approval_limit_minor,
            default_profile=config.default_profile,
        ),
        cache_size=config.cache_size,
    )


async def start_server(config: CaseConfig, clock: Clock | None = None) -> RunningServer:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(config.worker_threads, thread_name_prefix="casebook-worker")
    )
    app = await asyncio.to_thread(build_application, config, clock)
    watcher = LogWatcher(app)
    await watcher.start()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    case_service_pb2_grpc.add_CaseServiceServicer_to_server(CaseServicer(app, watcher), server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(config.listen)
    if port == 0:
        raise ConfigError(f"cannot listen on {config.listen}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, app, health, watcher)


async def serve(config: CaseConfig) -> None:
    running = await start_server(config)
    host = config.listen.rsplit(":", 1)[0]
    store = "postgresql" if config.db_url.startswith("postgresql") else "sqlite"
    log.info("listening", listen=f"{host}:{running.port}", port=running.port, store=store)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping", grace_seconds=config.shutdown_grace_seconds)
    await running.stop(config.shutdown_grace_seconds)
    log.info("stopped")


def main() -> None:
    try:
        config = CaseConfig.from_env()
    except ConfigError as error:
        print(f"casebook-case: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("case", fmt=config.log_format, level=config.log_level)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
