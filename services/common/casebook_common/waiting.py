"""Bounded waits for both services' asyncio loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable


async def wait_or_time_out(awaitable: Awaitable[object], timeout: float) -> None:
    """Await `awaitable` for at most `timeout` seconds, without ever swallowing a cancel.
    Python 3.11's asyncio.wait_for can lose a cancellation that arrives as its timeout fires,
    and a poll loop that loses one never stops: a server's stop waited for ever on it.
    asyncio.timeout tells its own cancellation from the caller's."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await awaitable
