"""The read side: projection tables fed from the event log (projector.py), worklists
(worklist.py, filters.py) and portfolio statistics (stats.py) served from them.

`ReadSide` is what the gRPC layer calls: it waits for the projection where a request asks
to read its own writes, and runs the queries in worker threads (the store is synchronous).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from casebook_case.access_log import Reader
from casebook_case.application import CaseApplication, Show
from casebook_case.domain.errors import InvalidArgument
from casebook_case.projections.projector import LiveProjector, Projector
from casebook_case.projections.stats import PortfolioStats, portfolio_stats
from casebook_case.projections.worklist import (
    ListQuery,
    Page,
    ProjectionBehind,
    Worklist,
    plan,
)

__all__ = [
    "ListQuery",
    "LiveProjector",
    "Page",
    "PortfolioStats",
    "ProjectionBehind",
    "Projector",
    "ReadSide",
]


class ReadSide:
    def __init__(
        self, app: CaseApplication, projector: LiveProjector, wait_seconds: float = 5.0
    ) -> None:
        self.app = app
        self.projector = projector
        self.worklist = Worklist(app)
        self.wait_seconds = wait_seconds

    async def list_cases(self, query: ListQuery, show: Show, reader: Reader | None) -> Page:
        checked = plan(query, self.app.clock.now())
        if query.min_position:
            await self._reach(query.min_position)
        detail = f"filter={query.filter}"[:256]
        return await asyncio.to_thread(self.worklist.page, checked, show, reader, detail)

    async def _reach(self, wanted: int) -> None:
        if self.projector.position >= wanted:
            return
        head = await asyncio.to_thread(self.app.head_position)
        if wanted > head:
            raise InvalidArgument.single(
                "min_position", f"is beyond the head of the log ({head}); no such position"
            )
        if not await self.projector.wait_for(wanted, self.wait_seconds):
            raise ProjectionBehind(wanted, self.projector.position)

    async def portfolio_stats(self, start: datetime | None, end: datetime | None) -> PortfolioStats:
        return await asyncio.to_thread(portfolio_stats, self.app, start, end)
