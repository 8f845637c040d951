"""Wakes a poller of the store as soon as this process commits: other replicas' commits
are only seen at its next poll, this process's own at once."""

from __future__ import annotations

import asyncio
import contextlib

from casebook_case.application import CaseApplication
from casebook_common.waiting import wait_or_time_out


class CommitWakeup:
    """An event set from whatever thread commits, waited on by one asyncio loop."""

    def __init__(self, app: CaseApplication) -> None:
        self.app = app
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Listen for commits; call from the loop that waits."""
        self._loop = asyncio.get_running_loop()
        self.app.add_listener(self._on_commit)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.app.remove_listener(self._on_commit)

    def wake(self) -> None:
        """Wake the waiter now (from the loop's own thread)."""
        self._event.set()

    def _on_commit(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier wake-ups: call before looking, so none after it is missed."""
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        """Until a commit (or `wake`) since the last `clear`, or `timeout` seconds."""
        await wait_or_time_out(self._event.wait(), timeout)
