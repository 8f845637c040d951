"""The notify process: follows case events, runs the scheduler, serves NotifyService."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from casebook.v1 import notify_service_pb2, notify_service_pb2_grpc
from casebook_common.clock import Clock, clock_from_env
from casebook_common.logging import configure_logging
from casebook_notify.api import AlertBell, NotifyServicer
from casebook_notify.config import ConfigError, NotifyConfig
from casebook_notify.follower import Follower
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


async def start_notify(config: NotifyConfig, clock: Clock | None = None) -> RunningNotify:
    clock = clock or clock_from_env()
    store = await asyncio.to_thread(NotifyStore, config.db_url)
    scheduler = Scheduler(store, config, clock)
    recovered = await asyncio.to_thread(scheduler.recover_after_restart)
    if recovered:
        log.warning("reminders_outcome_unknown", count=recovered)
    bell = AlertBell()
    loop = asyncio.get_running_loop()
    follower = Follower(store, config, on_alert=lambda: loop.create_task(bell.ring()))
    server = grpc.aio.server()
    notify_service_pb2_grpc.add_NotifyServiceServicer_to_server(
        NotifyServicer(store, bell, clock), server
    )
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
    tasks = [asyncio.create_task(follower.run()), asyncio.create_task(scheduler.run())]
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    return RunningNotify(server, port, store, scheduler, health, tasks)


async def serve(config: NotifyConfig) -> None:
    running = await start_notify(config)
    host = config.listen.rsplit(":", 1)[0]
    log.info(
        "listening",
        listen=f"{host}:{running.port}",
        port=running.port,
        case_service=config.case_address,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping")
    await running.stop(config.shutdown_grace_seconds)
    log.info("stopped")


def main() -> None:
    try:
        config = NotifyConfig.from_env()
    except ConfigError as error:
        print(f"casebook-notify: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("notify", fmt=config.log_format, level=config.log_level)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
