"""Watches the head of the event log for all streams of this server at once, so idle
followers cost one cheap query per poll interval in total, not one each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from casebook_case.application import CaseApplication
from casebook_case.wakeup import LogPoller

log = structlog.get_logger("casebook.follow")


@dataclass(eq=False)
class Subscription:
    """One open SubscribeEvents stream: the log position it has sent up to."""

    position: int


class LogWatcher(LogPoller):
    """The head of the log: from this process's own commits as they happen (free: the
    committed position is the head, since positions are committed in order), and from a
    query at least every poll interval for other replicas' commits."""

    def __init__(
        self, app: CaseApplication, poll_interval: float = 0.05, gather: float = 0.02
    ) -> None:
        super().__init__(app, poll_interval, gather)
        self.head = 0
        self._queried_at = 0.0
        self._changed = asyncio.Condition()
        self._subscriptions: set[Subscription] = set()

    async def prepare(self) -> None:
        self.head = await asyncio.to_thread(self.app.head_position)

    async def look(self) -> bool:
        head = max(self.head, self._wakeup.committed)
        now = asyncio.get_running_loop().time()
        if now - self._queried_at >= self.poll_interval:
            self._queried_at = now
            try:
                head = max(head, await asyncio.to_thread(self.app.head_position))
            except Exception as error:
                log.warning("log_watch_failed", error_type=type(error).__name__)
        if head > self.head:
            async with self._changed:
                self.head = head
                self._changed.notify_all()
        return False

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
