"""Pollers of the store inside the server: woken as soon as this process commits (other
replicas' commits are seen at the next poll), and letting commits gather for a moment first,
so that under load they look once per interval rather than once per commit."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from casebook_case.application import CaseApplication
from casebook_common.waiting import wait_or_time_out


class CommitWakeup:
    """Events set from whatever thread commits, waited on by one asyncio loop."""

    def __init__(self, app: CaseApplication) -> None:
        self.app = app
        self.committed = 0  # the highest log position this process has committed
        self._committing = threading.Lock()  # several threads commit: max() then store
        self._event = asyncio.Event()  # a commit or a wake since the last clear
        self._urgent = asyncio.Event()  # a wake since the last clear: someone waits on us
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Listen for commits; call from the loop that waits."""
        self._loop = asyncio.get_running_loop()
        self.app.add_listener(self._on_commit)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.app.remove_listener(self._on_commit)

    def wake(self) -> None:
        """Wake the waiter now, without letting commits gather (from the loop's own thread)."""
        self._event.set()
        self._urgent.set()

    def _on_commit(self, position: int) -> None:
        # Runs in the committing thread, after the commit: whatever the waiter reads after
        # its clear() sees this commit, so an event already set needs no second wake-up.
        with self._committing:
            self.committed = max(self.committed, position)
        loop = self._loop
        if loop is not None and not loop.is_closed() and not self._event.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier wake-ups: call before looking, so none after it is missed."""
        self._event.clear()
        self._urgent.clear()

    async def wait(self, timeout: float) -> None:
        """Until a commit (or `wake`) since the last `clear`, or `timeout` seconds."""
        await wait_or_time_out(self._event.wait(), timeout)

    async def gather(self, seconds: float) -> None:
        """Let more commits arrive for up to `seconds`, unless `wake` says someone waits."""
        if seconds > 0 and not self._urgent.is_set():
            await wait_or_time_out(self._urgent.wait(), seconds)


class LogPoller:
    """A task on the server's loop that calls `look` after each local commit (commits
    gathered for `gather` seconds) and at least every `poll_interval` seconds."""

    def __init__(self, app: CaseApplication, poll_interval: float, gather: float) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.gather = gather
        self._wakeup = CommitWakeup(app)
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Runs once before the first look."""

    async def look(self) -> bool:
        """One look at the store; True to look again at once (there is more)."""
        raise NotImplementedError

    async def start(self) -> None:
        await self.prepare()
        self._wakeup.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._wakeup.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            started = loop.time()
            if not await self.look():
                await self._wakeup.wait(self.poll_interval)
                await self._wakeup.gather(started + self.gather - loop.time())
