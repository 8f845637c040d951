"""Follows the case service's event log and turns case events into deadlines, reminders and
alerts. A batch of events and the position after it are committed together."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import grpc
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_common.clock import SystemClock
from casebook_notify.case_client import case_channel, log_if_refused
from casebook_notify.config import NotifyConfig
from casebook_notify.metrics import NotifyMetrics
from casebook_notify.store import NotifyStore, alerts, deadlines, reminders

log = structlog.get_logger("casebook.notify.follower")
FOLLOWER = "case-events"
NOTIFY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:casebook:notify")  # fixed: ids derive from it
BATCH = 500

# What ends a promise's deadlines and unsent reminders, and the reason they are skipped.
_PROMISE_ENDINGS = {
    "PromiseKept": "PROMISE_KEPT",
    "PromiseBroken": "PROMISE_BROKEN",
    "PromiseCancelled": "PROMISE_CANCELLED",
    "PromiseSuperseded": "PROMISE_SUPERSEDED",
}


def stable_id(*parts: object) -> str:
    return str(uuid5(NOTIFY_NAMESPACE, ":".join(str(p) for p in parts)))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class EventEffects:
    """What each case event means for notify. Plain functions of (event, config) writing
    through the given connection; re-applying an event changes nothing."""

    def __init__(self, config: NotifyConfig, webhook: bool) -> None:
        self.config = config
        self.webhook = webhook

    def apply(self, connection: Connection, event: pb.CaseEvent) -> str | None:
        """Returns the kind of the alert raised, if one was."""
        if event.type != "PromiseRecorded" and event.type not in _PROMISE_ENDINGS:
            return None  # most events mean nothing to notify: not even decoded
        payload = json.loads(event.payload_json)
        if event.type == "PromiseRecorded":
            self._promise_recorded(connection, event, payload)
        else:
            self._promise_ended(connection, payload["promise_id"], _PROMISE_ENDINGS[event.type])
            if event.type == "PromiseBroken" and self._raise_broken_promise_alert(
                connection, event, payload
            ):
                return "BROKEN_PROMISE"
        return None

    def _promise_recorded(
        self, connection: Connection, event: pb.CaseEvent, payload: dict[str, Any]
    ) -> None:
        promise_id = payload["promise_id"]
        recorded_at = event.recorded_at.ToDatetime(tzinfo=UTC)
        for index, instalment in enumerate(payload["instalments"]):
            due = _time(instalment["due_time"])
            deadline_id = f"{promise_id}:{index}"
            _insert_new(
                connection,
                deadlines,
                "deadline_id",
                deadline_id=deadline_id,
                case_id=event.case_id,
                promise_id=promise_id,
                due_time=due,
                fire_at=due + self.config.grace,
                state="PENDING",
                outcome="",
                attempts=0,
            )
            for offset in self.config.reminder_offsets:
                scheduled_for = due - offset
                late = scheduled_for <= recorded_at
                for channel in self.config.reminder_channels:
                    _insert_new(
                        connection,
                        reminders,
                        "reminder_id",
                        reminder_id=stable_id(deadline_id, int(offset.total_seconds()), channel),
                        case_id=event.case_id,
                        promise_id=promise_id,
                        channel=channel,
                        due_time=due,
                        scheduled_for=scheduled_for,
                        state="SKIPPED" if late else "SCHEDULED",
                        reason="TIME_PASSED_BEFORE_PROMISE_RECORDED" if late else "",
                        attempts=0,
                        logged_on_case=False,
                    )

    @staticmethod
    def _promise_ended(connection: Connection, promise_id: str, reason: str) -> None:
        connection.execute(
            update(deadlines)
            .where(deadlines.c.promise_id == promise_id, deadlines.c.state == "PENDING")
            .values(state="DONE", outcome=reason)
        )
        connection.execute(
            update(reminders)
            .where(reminders.c.promise_id == promise_id, reminders.c.state == "SCHEDULED")
            .values(state="SKIPPED", reason=reason)
        )

    def _raise_broken_promise_alert(
        self, connection: Connection, event: pb.CaseEvent, payload: dict[str, Any]
    ) -> bool:
        return _insert_new(
            connection,
            alerts,
            "alert_id",
            alert_id=stable_id("BROKEN_PROMISE", payload["promise_id"]),
            kind="BROKEN_PROMISE",
            case_id=event.case_id,
            promise_id=payload["promise_id"],
            raised_at=event.recorded_at.ToDatetime(tzinfo=UTC),
            missed_due_time=_time(payload["missed_due_time"]),
            unpaid_minor=int(payload["unpaid_minor"]),
            acknowledged_by="",
            webhook_state="PENDING" if self.webhook else "NONE",
            webhook_attempts=0,
        )


def _insert_new(connection: Connection, table: Any, key: str, **values: Any) -> bool:
    exists = connection.execute(select(table.c[key]).where(table.c[key] == values[key])).first()
    if exists:
        return False
    connection.execute(insert(table).values(**values))
    return True


class Follower:
    """Reads SubscribeEvents from the saved position; reconnects with backoff while the
    case service is away."""

    def __init__(
        self,
        store: NotifyStore,
        config: NotifyConfig,
        on_alert: Callable[[], None],
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.effects = EventEffects(config, webhook=bool(config.alert_webhook_url))
        self.on_alert = on_alert
        self.metrics = metrics or NotifyMetrics(SystemClock())

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._follow()
                backoff = 0.2
            except grpc.aio.AioRpcError as error:
                self.metrics.follower_stream_errors.labels(error.code().name).inc()
                if not log_if_refused(log, error, "SubscribeEvents"):
                    log.warning(
                        "case_service_unreachable", code=error.code().name, retry_in=backoff
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _follow(self) -> None:
        after = await asyncio.to_thread(self.store.position, FOLLOWER)
        async with case_channel(self.config) as channel:
            call = rpc.CaseServiceStub(channel).SubscribeEvents(
                svc.SubscribeEventsRequest(after_position=after, max_events_per_message=BATCH)
            )
            # Messages read ahead while a batch is applied; each holds up to BATCH events.
            queue: asyncio.Queue[list[pb.CaseEvent]] = asyncio.Queue(maxsize=2)

            async def read() -> None:
                async for message in call:
                    await queue.put(list(message.events) or [message.event])

            reader = asyncio.create_task(read())
            getter: asyncio.Future[list[pb.CaseEvent]] | None = None
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, reader}, return_when="FIRST_COMPLETED")
                    if getter not in done:
                        reader.result()  # re-raises the stream's error
                        return
                    batch = getter.result()
                    while len(batch) < BATCH and not queue.empty():
                        batch.extend(queue.get_nowait())
                    raised = await asyncio.to_thread(self._apply, batch)  # committed
                    last = batch[-1]
                    self.metrics.follower_applied(
                        last.position, last.recorded_at.ToDatetime(tzinfo=UTC), not queue.empty()
                    )
                    self.metrics.count_alerts(raised)
                    if raised:
                        self.on_alert()
            finally:
                for task in (getter, reader):
                    if task is not None:
                        task.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                    await reader

    def _apply(self, batch: list[pb.CaseEvent]) -> list[str]:
        """Commits the batch's effects with its position; returns the kinds of alerts raised."""
        raised = []
        with self.store.transaction() as connection:
            for event in batch:
                kind = self.effects.apply(connection, event)
                if kind is not None:
                    raised.append(kind)
            self.store.save_position(connection, FOLLOWER, batch[-1].position)
        return raised
