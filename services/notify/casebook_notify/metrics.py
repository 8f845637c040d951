"""The notify service's metrics (plus the shared RPC metrics): reminders by channel and
outcome, deliveries to the SMS gateway, SMTP and the alert webhook, alerts raised, the
follower's position and lag, and the deadlines waiting in the store."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select

from casebook_common.clock import Clock
from casebook_common.metrics import ServiceMetrics
from casebook_common.timestamps import utc
from casebook_notify.delivery import DeliveryError
from casebook_notify.store import NotifyStore, deadlines

CHANNELS = ("sms", "email")
# What the scheduler did with a reminder that fell due (Scheduler._remind's answers).
REMINDER_OUTCOMES = ("sent", "failed", "skipped", "shifted", "retry")
DELIVERY_RESULTS = ("delivered", "transient_failure", "permanent_failure")
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class NotifyMetrics(ServiceMetrics):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.reminders = Counter(
            "casebook_notify_reminders_total",
            "Reminders that fell due, by channel and what the scheduler did: sent, failed "
            "(permanently, or out of attempts), skipped, shifted to a permitted time, retry",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "casebook_notify_deliveries_total",
            "Attempts to hand a message to the SMS gateway, SMTP server or alert webhook, "
            "by channel and result",
            ["channel", "result"],
            registry=self.registry,
        )
        self.delivery_duration = Histogram(
            "casebook_notify_delivery_duration_seconds",
            "Time one delivery attempt took, by channel",
            ["channel"],
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.alerts_raised = Counter(
            "casebook_notify_alerts_raised_total",
            "Alerts raised (each committed once, whatever the retries), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.follower_stream_errors = Counter(
            "casebook_notify_follower_stream_errors_total",
            "SubscribeEvents streams to the case service that failed, by status code "
            "(the follower reconnects with backoff)",
            ["grpc_code"],
            registry=self.registry,
        )
        self.follower_position = Gauge(
            "casebook_notify_follower_position",
            "Case log position whose effects this process last committed",
            registry=self.registry,
        )
        for channel in CHANNELS:  # every series shows from the start, at 0
            self.delivery_duration.labels(channel)
            for outcome in REMINDER_OUTCOMES:
                self.reminders.labels(channel, outcome)
        for channel in (*CHANNELS, "webhook"):
            for result in DELIVERY_RESULTS:
                self.deliveries.labels(channel, result)
        self.alerts_raised.labels("BROKEN_PROMISE")
        # Written by the follower's thread, read by the scrape's.
        self._lock = threading.Lock()
        self._behind_since: datetime | None = None
        self.gauge(
            "casebook_notify_follower_lag_seconds",
            "While the follower has more events waiting than it has applied: how long ago the "
            "last applied event was recorded (0 once it has applied all it received)",
            self._follower_lag,
        )

    # ------------------------------------------------------------------ scheduler
    def count_reminder(self, channel: str, outcome: str) -> None:
        self.reminders.labels(channel.lower(), outcome.lower()).inc()

    @contextlib.contextmanager
    def delivery(self, channel: str) -> Iterator[None]:
        """Times and counts one attempt; a DeliveryError passes through, counted."""
        started = time.perf_counter()
        result = "delivered"
        try:
            yield
        except DeliveryError as error:
            result = "permanent_failure" if error.permanent else "transient_failure"
            raise
        finally:
            channel = channel.lower()
            self.delivery_duration.labels(channel).observe(time.perf_counter() - started)
            self.deliveries.labels(channel, result).inc()

    # ------------------------------------------------------------------- follower
    def count_alerts(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.alerts_raised.labels(kind).inc()

    def follower_applied(self, position: int, recorded_at: datetime, behind: bool) -> None:
        """After a batch is committed; `behind`: more events are already waiting."""
        self.follower_position.set(position)
        with self._lock:
            self._behind_since = recorded_at if behind else None

    def _follower_lag(self) -> float:
        with self._lock:
            since = self._behind_since
        if since is None:
            return 0.0
        return max((self.clock.now() - since).total_seconds(), 0.0)

    # ---------------------------------------------------------------------- store
    def watch_deadlines(self, store: NotifyStore) -> None:
        """Gauges read from the store at scrape time, through the (state, fire_at) index:
        an index-only count and a min, never a table scan."""

        def pending() -> float:
            count = select(func.count()).select_from(deadlines)
            return float(_first(store, count.where(deadlines.c.state == "PENDING")) or 0)

        def overdue() -> float:
            earliest = utc(
                _first(
                    store,
                    select(func.min(deadlines.c.fire_at)).where(deadlines.c.state == "PENDING"),
                )
            )
            return max((self.clock.now() - earliest).total_seconds(), 0.0) if earliest else 0.0

        self.gauge(
            "casebook_notify_deadlines_pending",
            "Promise instalments whose due time (plus grace) notify still has to check",
            _nan_on_error(pending),
        )
        self.gauge(
            "casebook_notify_deadlines_overdue_seconds",
            "How long the earliest pending deadline has been waiting past its check time "
            "(0 when none is due): the scheduler falling behind",
            _nan_on_error(overdue),
        )


def _first(store: NotifyStore, query: Any) -> Any:
    rows = store.rows(query)
    return rows[0][0] if rows else None


def _nan_on_error(read: Callable[[], float]) -> Callable[[], float]:
    """A value that cannot be read (the store is down) shows as NaN: the scrape still works."""

    def guarded() -> float:
        try:
            return read()
        except Exception:
            return math.nan

    return guarded
