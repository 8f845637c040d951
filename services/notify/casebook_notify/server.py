"""The notify process: follows case events, runs the scheduler, serves NotifyService."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1._async import HealthServicer

from casebook.v1 import notify_service_pb2, notify_service_pb2_grpc
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
from casebook_notify.api import AlertBell, NotifyServicer
from casebook_notify.authz import NOTIFY_SERVICE
from casebook_notify.config import ConfigError, NotifyConfig
from casebook_notify.follower import Follower
from casebook_notify.leader import FencedStore, Leadership, leader_lock, open_store
from casebook_notify.metrics import NotifyMetrics
from casebook_notify.scheduler import Scheduler
from casebook_notify.store import NotifyStore

log = structlog.get_logger("casebook.notify")
SERVICE_NAME = notify_service_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name


@dataclass
class RunningNotify:
    server: grpc.aio.Server
    port: int
    store: NotifyStore
    scheduler: Scheduler
    health: HealthServicer
    tasks: list[asyncio.Task[None]]
    leadership: Leadership | None = None
    metrics: NotifyMetrics | None = None
    metrics_server: MetricsServer | None = None  # CASEBOOK_NOTIFY_METRICS_LISTEN

    @property
    def metrics_port(self) -> int:
        return self.metrics_server.port if self.metrics_server else 0

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.server.stop(grace)
        await self.scheduler.close()
        self.store.close()
        if self.metrics_server is not None:
            await asyncio.to_thread(self.metrics_server.stop)


async def start_notify(config: NotifyConfig, clock: Clock | None = None) -> RunningNotify:
    clock = clock or clock_from_env()
    store = await asyncio.to_thread(open_store, config.db_url)
    metrics = NotifyMetrics(clock)
    metrics.watch_deadlines(store)
    # Every process serves the API; only the leader follows and schedules, and they write
    # through the fence (casebook_notify.leader explains why nothing is missed or doubled).
    leadership = Leadership(leader_lock(config.db_url), config.standby_poll.total_seconds())
    duty_store = FencedStore(store, leadership)
    metrics.gauge(
        "casebook_notify_leader",
        "1 while this process leads (follows the case events and runs the scheduler)",
        lambda: float(leadership.is_leader),
    )
    scheduler = Scheduler(duty_store, config, clock, metrics)

    async def take_over() -> None:
        """A new term begins where the last one (of any process) ended."""
        recovered = await asyncio.to_thread(scheduler.recover_after_restart)
        if recovered:
            log.warning("reminders_outcome_unknown", count=recovered)

    bell = AlertBell()
    loop = asyncio.get_running_loop()
    follower = Follower(
        duty_store, config, on_alert=lambda: loop.create_task(bell.ring()), metrics=metrics
    )
    # Authentication first: a caller without a valid token learns nothing, not even
    # whether its request decodes.
    server = grpc.aio.server(
        interceptors=[
            metrics.interceptor(),  # outermost: refused calls are counted too
            *config.security.interceptors(NOTIFY_SERVICE),
            RejectUnreadableRequests(),
        ]
    )
    notify_service_pb2_grpc.add_NotifyServiceServicer_to_server(
        NotifyServicer(store, bell, clock), server
    )
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
            f"CASEBOOK_NOTIFY_METRICS_LISTEN={config.metrics_listen}: {error.strerror or error}"
        ) from None
    await server.start()
    # A standby is SERVING too: it answers reads from the shared database. WatchAlerts
    # there finds the leader's alerts by its own poll of the alerts table (api.py).
    tasks = [
        asyncio.create_task(leadership.run(take_over, lambda: [follower.run(), scheduler.run()]))
    ]
    await leadership.decided.wait()
    await mark_serving(health, SERVICE_NAME)
    return RunningNotify(
        server, port, store, scheduler, health, tasks, leadership, metrics, metrics_server
    )


async def serve(config: NotifyConfig) -> None:
    configure_logging("notify", fmt=config.log_format, level=config.log_level)
    running = await start_notify(config)
    host = config.listen.rsplit(":", 1)[0]
    log.info(
        "listening",
        listen=f"{host}:{running.port}",
        port=running.port,
        metrics_port=running.metrics_port,  # 0: no metrics endpoint
        case_service=config.case_address,
        mode=config.security.mode,
        tls=config.security.tls,
        mutual_tls=config.security.mutual_tls,
        auth=config.security.auth,
        case_tls=bool(config.case_ca_file),
        case_token=bool(config.case_token_file),
    )
    announce_insecure_mode("casebook-notify", log, config.security, f"{host}:{running.port}")
    await run_until_signalled(
        log, lambda: running.stop(config.shutdown_grace_seconds), config.shutdown_grace_seconds
    )


def main() -> None:
    run_main("casebook-notify", NotifyConfig.from_env, ConfigError, serve)


if __name__ == "__main__":
    main()
