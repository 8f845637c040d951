"""Watches the head of the event log for all streams of this server at once, so idle
followers cost one cheap query per poll interval in total, not one each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from casebook_case.application import CaseApplication
from casebook_case.wakeup import CommitWakeup

log = structlog.get_logger("casebook.follow")


@dataclass(eq=False)
class Subscription:
    """One open SubscribeEvents stream: the log position it has sent up to."""

    position: int


class LogWatcher:
    def __init__(self, app: CaseApplication, poll_interval: float = 0.05) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.head = 0
        self._changed = asyncio.Condition()
        self._wakeup = CommitWakeup(app)
        self._task: asyncio.Task[None] | None = None
        self._subscriptions: set[Subscription] = set()

    async def start(self) -> None:
        self.head = await asyncio.to_thread(self.app.head_position)
        self._wakeup.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._wakeup.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                head = await asyncio.to_thread(self.app.head_position)
            except Exception as error:
                log.warning("log_watch_failed", error_type=type(error).__name__)
                head = self.head
            if head > self.head:
                async with self._changed:
                    self.head = head
                    self._changed.notify_all()
            await self._wakeup.wait(self.poll_interval)

    @contextlib.contextmanager
    def following(self, position: int) -> Iterator[Subscription]:
        """Registers a stream for as long as it is open (the metrics count and measure them)."""
        subscription = Subscription(position)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def subscriptions(self) -> tuple[Subscription, ...]:
        """The open streams; safe from another thread (copying a set is atomic under the GIL,
        and only this loop's thread changes it)."""
        return tuple(self._subscriptions)

    async def wait_beyond(self, position: int) -> None:
        """Return once the log's head has passed `position`."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.head > position)
