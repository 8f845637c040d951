"""The case service's metrics: events appended, the head of the log, SubscribeEvents streams
and how far behind they are, the worklist projection's position (plus the shared RPC
metrics). Positions and gauges are read from memory at scrape time: a scrape costs no query."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

from casebook_case.api.follow import LogWatcher
from casebook_case.domain.case import Case
from casebook_case.history import CASE_EVENT_CLASSES, event_type
from casebook_case.projections import LiveProjector
from casebook_common.metrics import ServiceMetrics


class CaseMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.events_appended = Counter(
            "casebook_case_events_appended_total",
            "Case events this process committed to the log, by event type",
            ["type"],
            registry=self.registry,
        )
        for name in CASE_EVENT_CLASSES:  # every type shows from the start, at 0
            self.events_appended.labels(name)

    def count_appended(self, recordings: Iterable[Any]) -> None:
        """After a commit: its case events (uniqueness claims saved with them are not)."""
        for recording in recordings:
            if isinstance(recording.domain_event, Case.Event):
                self.events_appended.labels(event_type(recording.domain_event)).inc()

    def watch(self, watcher: LogWatcher, projector: LiveProjector) -> None:
        self.gauge(
            "casebook_case_log_head_position",
            "Position of the last record in the event log, as this process last saw it",
            lambda: watcher.head,
        )
        self.gauge(
            "casebook_case_subscribers",
            "SubscribeEvents streams open on this process",
            lambda: len(watcher.subscriptions()),
        )
        self.gauge(
            "casebook_case_subscription_max_lag_events",
            "Log positions between the head and the slowest open SubscribeEvents stream "
            "(0 when every stream has sent everything)",
            lambda: max((watcher.head - s.position for s in watcher.subscriptions()), default=0),
        )
        self.gauge(
            "casebook_case_projection_position",
            "Log position the worklist projection (ListCases, GetPortfolioStats) has applied",
            lambda: projector.position,
        )
        self.gauge(
            "casebook_case_projection_lag_events",
            "Log positions the worklist projection is behind the head",
            lambda: max(watcher.head - projector.position, 0),
        )
