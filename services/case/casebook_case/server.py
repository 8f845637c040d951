"""The case service process: gRPC (aio) with health and reflection, graceful on SIGTERM."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1._async import HealthServicer

from casebook.v1 import case_service_pb2, case_service_pb2_grpc
from casebook_case.api.authz import CASE_SERVICE
from casebook_case.api.follow import LogWatcher
from casebook_case.api.servicer import CaseServicer
from casebook_case.application import CaseApplication
from casebook_case.commands import Policy
from casebook_case.config import CaseConfig, ConfigError
from casebook_case.metrics import CaseMetrics
from casebook_case.projections import LiveProjector, ReadSide
from casebook_case.signing import Signer
from casebook_common.clock import Clock, clock_from_env
from casebook_common.decoding import RejectUnreadableRequests
from casebook_common.logging import configure_logging
from casebook_common.metrics import MetricsServer, serve_metrics
from casebook_common.security import announce_insecure_mode
from casebook_common.serving import (
    add_health_and_reflection,
    mark_serving,
    run_main,
    run_until_signalled,
)

log = structlog.get_logger("casebook.case")
SERVICE_NAME = case_service_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    app: CaseApplication
    health: HealthServicer
    watcher: LogWatcher
    projector: LiveProjector
    metrics: CaseMetrics
    metrics_server: MetricsServer | None = None  # CASEBOOK_CASE_METRICS_LISTEN

    @property
    def metrics_port(self) -> int:
        return self.metrics_server.port if self.metrics_server else 0

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let calls in flight finish within `grace`, then close."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.projector.stop()
        await self.watcher.stop()
        self.app.close()
        if self.metrics_server is not None:
            await asyncio.to_thread(self.metrics_server.stop)


def build_application(config: CaseConfig, clock: Clock | None = None) -> CaseApplication:
    return CaseApplication(
        config.db_url,
        clock=clock or clock_from_env(),
        policy=Policy(
            approval_limit_minor=config.approval_limit_minor,
            default_profile=config.default_profile,
        ),
        cache_size=config.cache_size,
        signer=Signer.from_file(config.ledger_key_file) if config.ledger_key_file else None,
        cipher_key=config.cipher_key,
    )


async def start_server(config: CaseConfig, clock: Clock | None = None) -> RunningServer:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(config.worker_threads, thread_name_prefix="casebook-worker")
    )
    app = await asyncio.to_thread(build_application, config, clock)
    if not await asyncio.to_thread(app.stored_events_readable):
        app.close()
        raise ConfigError("the stored events cannot be read: wrong or missing CASEBOOK_CIPHER_KEY")
    metrics = CaseMetrics()
    app.metrics = metrics
    watcher = LogWatcher(app)
    await watcher.start()
    # Worklists and statistics: the projection tables follow the log inside the server.
    projector = LiveProjector(app)
    await projector.start()
    metrics.watch(watcher, projector)
    server = grpc.aio.server(
        # Metrics outermost, so refused calls are counted too. Then authentication: a caller
        # without a valid token learns nothing, not even whether its request decodes.
        interceptors=[
            metrics.interceptor(),
            *config.security.interceptors(CASE_SERVICE),
            RejectUnreadableRequests(),
        ],
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    read_side = ReadSide(app, projector, config.projection_wait_seconds)
    servicer = CaseServicer(app, watcher, read_side)
    servicer.call_timeout = config.call_timeout_seconds or None
    servicer.max_message_bytes = config.max_message_bytes
    case_service_pb2_grpc.add_CaseServiceServicer_to_server(servicer, server)
    health = add_health_and_reflection(server, SERVICE_NAME)
    credentials = config.security.server_credentials()
    port = (
        server.add_secure_port(config.listen, credentials)
        if credentials is not None
        else server.add_insecure_port(config.listen)
    )
    if port == 0:
        raise ConfigError(f"cannot listen on {config.listen}")
    try:
        metrics_server = serve_metrics(metrics.registry, config.metrics_listen)
    except OSError as error:
        raise ConfigError(
            f"CASEBOOK_CASE_METRICS_LISTEN={config.metrics_listen}: {error.strerror or error}"
        ) from None
    await server.start()
    await mark_serving(health, SERVICE_NAME)
    return RunningServer(server, port, app, health, watcher, projector, metrics, metrics_server)


async def serve(config: CaseConfig) -> None:
    configure_logging("case", fmt=config.log_format, level=config.log_level)
    running = await start_server(config)
    host = config.listen.rsplit(":", 1)[0]
    store = "postgresql" if config.db_url.startswith("postgresql") else "sqlite"
    log.info(
        "listening",
        listen=f"{host}:{running.port}",
        port=running.port,
        metrics_port=running.metrics_port,  # 0: no metrics endpoint
        store=store,
        ledger_key_id=running.app.ledger.signer.key_id if running.app.ledger.signer else "",
        mode=config.security.mode,
        tls=config.security.tls,
        mutual_tls=config.security.mutual_tls,
        auth=config.security.auth,
    )
    announce_insecure_mode("casebook-case", log, config.security, f"{host}:{running.port}")
    await run_until_signalled(
        log, lambda: running.stop(config.shutdown_grace_seconds), config.shutdown_grace_seconds
    )


def main() -> None:
    run_main("casebook-case", CaseConfig.from_env, ConfigError, serve)


if __name__ == "__main__":
    main()
