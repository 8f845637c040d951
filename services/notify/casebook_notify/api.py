"""NotifyService over gRPC: alerts and reminders, read from the notify store."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog
from sqlalchemy import select, update

from casebook.v1 import case_pb2 as pb
from casebook.v1 import notify_service_pb2 as npb
from casebook.v1 import notify_service_pb2_grpc as nrpc
from casebook_common.clock import Clock
from casebook_common.security import current_principal
from casebook_common.timestamps import to_timestamp
from casebook_common.waiting import wait_or_time_out
from casebook_notify.store import NotifyStore, alerts, reminders

log = structlog.get_logger("casebook.rpc")
MAX_PAGE = 500


def alert_to_proto(row: Any) -> npb.Alert:
    return npb.Alert(
        alert_id=row.alert_id,
        kind=npb.AlertKind.Value(row.kind),
        case_id=row.case_id,
        promise_id=row.promise_id,
        raised_at=to_timestamp(row.raised_at),
        missed_due_time=to_timestamp(row.missed_due_time),
        unpaid_minor=row.unpaid_minor,
        acknowledged=bool(row.acknowledged_by),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=to_timestamp(row.acknowledged_at),
        sequence=row.sequence,
    )


def _filtered(query: Any, alert_filter: npb.AlertFilter) -> Any:
    if alert_filter.case_id:
        query = query.where(alerts.c.case_id == alert_filter.case_id)
    if alert_filter.kind:
        if alert_filter.kind not in npb.AlertKind.values():
            raise _BadRequest("filter.kind is not a known alert kind")
        query = query.where(alerts.c.kind == npb.AlertKind.Name(alert_filter.kind))
    if alert_filter.HasField("acknowledged"):
        query = query.where(
            (alerts.c.acknowledged_by != "")
            if alert_filter.acknowledged
            else (alerts.c.acknowledged_by == "")
        )
    return query


class AlertBell:
    """Wakes WatchAlerts streams when the follower raises an alert in this process."""

    def __init__(self) -> None:
        self.rang = asyncio.Condition()
        self.count = 0

    async def ring(self) -> None:
        async with self.rang:
            self.count += 1
            self.rang.notify_all()

    async def wait(self, seen: int, timeout: float) -> int:
        async with self.rang:
            await wait_or_time_out(self.rang.wait_for(lambda: self.count > seen), timeout)
            return self.count


class NotifyServicer(nrpc.NotifyServiceServicer):
    def __init__(self, store: NotifyStore, bell: AlertBell, clock: Clock) -> None:
        self.store = store
        self.bell = bell
        self.clock = clock

    async def _answer(
        self, context: grpc.aio.ServicerContext, method: str, request: Any, work: Any
    ) -> Any:
        """One log line per call (method, ids, status, duration); nothing internal leaks."""
        started = time.perf_counter()
        metadata = dict(context.invocation_metadata() or ())
        fields = {
            "method": method,
            "request_id": metadata.get("x-request-id", ""),
            "case_id": getattr(request, "case_id", "")
            or getattr(getattr(request, "filter", None), "case_id", ""),
            "alert_id": getattr(request, "alert_id", ""),
            "actor": _actor(),
        }
        try:
            result = await work
        except _BadRequest as error:
            log.info("rpc", status=error.code.name, duration_ms=_ms(started), **fields)
            await context.abort(error.code, str(error))
        except Exception as error:
            log.error(
                "rpc",
                status="INTERNAL",
                duration_ms=_ms(started),
                error_type=type(error).__name__,
                exc_info=error,
                **fields,
            )
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        log.info("rpc", status="OK", duration_ms=_ms(started), **fields)
        return result

    async def ListAlerts(
        self, request: npb.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> npb.ListAlertsResponse:
        return await self._answer(
            context, "ListAlerts", request, asyncio.to_thread(self._list, request)
        )

    def _list(self, request: npb.ListAlertsRequest) -> npb.ListAlertsResponse:
        if request.page_size < 0:
            raise _BadRequest("page_size must not be negative")
        size = min(request.page_size or 50, MAX_PAGE)
        after = _decode_token(request.page_token)
        rows = self.store.rows(
            _filtered(select(alerts), request.filter)
            .where(alerts.c.sequence > after)
            .order_by(alerts.c.sequence)
            .limit(size + 1)
        )
        page = rows[:size]
        token = _encode_token(page[-1].sequence) if len(rows) > size else ""
        return npb.ListAlertsResponse(
            alerts=[alert_to_proto(r) for r in page], next_page_token=token
        )

    async def WatchAlerts(
        self, request: npb.WatchAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[npb.Alert]:
        if request.after_sequence < 0:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "after_sequence must not be negative"
            )
        try:
            _filtered(select(alerts), request.filter)
        except _BadRequest as error:
            await context.abort(error.code, str(error))
        after = request.after_sequence or await asyncio.to_thread(self._last_sequence)
        seen = self.bell.count
        while True:
            rows = await asyncio.to_thread(
                self.store.rows,
                _filtered(select(alerts), request.filter)
                .where(alerts.c.sequence > after)
                .order_by(alerts.c.sequence)
                .limit(MAX_PAGE),
            )
            for row in rows:
                yield alert_to_proto(row)
                after = row.sequence
            if len(rows) < MAX_PAGE:
                # Woken at once by this process's follower; another replica's alerts are
                # found by the timeout poll.
                seen = await self.bell.wait(seen, timeout=0.5)

    def _last_sequence(self) -> int:
        rows = self.store.rows(
            select(alerts.c.sequence).order_by(alerts.c.sequence.desc()).limit(1)
        )
        return rows[0].sequence if rows else 0

    async def AcknowledgeAlert(
        self, request: npb.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext
    ) -> npb.Alert:
        # With authentication on, whoever holds the token acknowledges, whatever agent_id says.
        principal = current_principal()
        acknowledged_by = principal.subject if principal else request.agent_id
        return await self._answer(
            context,
            "AcknowledgeAlert",
            request,
            asyncio.to_thread(self._acknowledge, request, acknowledged_by, principal is None),
        )

    def _acknowledge(
        self, request: npb.AcknowledgeAlertRequest, acknowledged_by: str, named: bool
    ) -> npb.Alert:
        """`named`: no authentication, the caller names itself in agent_id (required then)."""
        if not request.alert_id:
            raise _BadRequest("alert_id is required")
        if named and (not request.agent_id or len(request.agent_id) > 128):
            raise _BadRequest("agent_id is required (at most 128 characters)")
        with self.store.transaction() as connection:
            # Only the first acknowledgement counts; repeating it is harmless.
            connection.execute(
                update(alerts)
                .where(alerts.c.alert_id == request.alert_id, alerts.c.acknowledged_by == "")
                .values(acknowledged_by=acknowledged_by, acknowledged_at=self.clock.now())
            )
            row = connection.execute(
                select(alerts).where(alerts.c.alert_id == request.alert_id)
            ).first()
        if row is None:
            raise _BadRequest(f"alert {request.alert_id!r} not found", grpc.StatusCode.NOT_FOUND)
        return alert_to_proto(row)

    async def ListReminders(
        self, request: npb.ListRemindersRequest, context: grpc.aio.ServicerContext
    ) -> npb.ListRemindersResponse:
        return await self._answer(
            context, "ListReminders", request, asyncio.to_thread(self._reminders, request)
        )

    def _reminders(self, request: npb.ListRemindersRequest) -> npb.ListRemindersResponse:
        if not request.case_id:
            raise _BadRequest("case_id is required")
        rows = self.store.rows(
            select(reminders)
            .where(reminders.c.case_id == request.case_id)
            .order_by(reminders.c.due_time, reminders.c.scheduled_for, reminders.c.channel)
        )
        return npb.ListRemindersResponse(
            reminders=[
                npb.Reminder(
                    reminder_id=r.reminder_id,
                    case_id=r.case_id,
                    promise_id=r.promise_id,
                    channel=pb.Channel.Value(r.channel),
                    due_time=to_timestamp(r.due_time),
                    scheduled_for=to_timestamp(r.scheduled_for),
                    status=npb.Reminder.Status.Value(r.state),
                    reason=r.reason,
                    attempts=r.attempts,
                    sent_at=to_timestamp(r.sent_at),
                )
                for r in rows
            ]
        )


class _BadRequest(Exception):
    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code


def _encode_token(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"after:{sequence}".encode()).decode()


def _decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if kind != "after":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("page_token is not one this service gave out") from None


def _actor() -> str:
    principal = current_principal()
    return principal.subject if principal else "anonymous"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
