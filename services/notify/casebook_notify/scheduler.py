"""Acts on what has fallen due: asks the case to mark unpaid promises broken, sends
reminders inside the debtor's permitted hours, logs each one back onto the case, and posts
alerts to the webhook. Every query reads only what is due, through an index on due time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import structlog
from grpc_status import rpc_status
from sqlalchemy import select, update

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_common.clock import Clock
from casebook_common.timestamps import to_timestamp, utc
from casebook_notify.case_client import case_channel, log_if_refused
from casebook_notify.config import NotifyConfig
from casebook_notify.delivery import DeliveryError, post_json, send_email
from casebook_notify.metrics import NotifyMetrics
from casebook_notify.store import NotifyStore, alerts, deadlines, reminders

log = structlog.get_logger("casebook.notify.scheduler")
# Names notify as the actor when the case service runs without authentication; with it, the
# case service records the token's subject and ignores this.
ACTOR = (("x-casebook-actor", "notify"),)
# Reasons that pass with time: the reminder waits for the next permitted instant.
TIME_REASONS = frozenset({"OUTSIDE_CONTACT_HOURS", "REST_DAY", "FREQUENCY_LIMIT"})
PER_TICK = 1000
CONCURRENCY = 16
RPC_TIMEOUT = 10.0


@dataclass
class TickReport:
    deadlines: int = 0
    reminders: int = 0
    contacts_logged: int = 0
    webhooks: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)


def _reason(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str]]:
    """The ErrorInfo reason and metadata of a refused call, if it has one."""
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason, dict(info.metadata)
    return "", {}


class Scheduler:
    def __init__(
        self,
        store: NotifyStore,
        config: NotifyConfig,
        clock: Clock,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.metrics = metrics or NotifyMetrics(clock)
        self._channel: grpc.aio.Channel | None = None
        self._cases: rpc.CaseServiceStub | None = None
        self._limit = asyncio.Semaphore(CONCURRENCY)

    @property
    def cases(self) -> rpc.CaseServiceStub:
        if self._cases is None:
            self._channel = case_channel(self.config)
            self._cases = rpc.CaseServiceStub(self._channel)
        return self._cases

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    def recover_after_restart(self) -> int:
        """A reminder caught mid-send by a crash may or may not have gone out. It is not
        sent again: a debtor must never get the same message twice."""
        with self.store.transaction() as connection:
            return connection.execute(
                update(reminders)
                .where(reminders.c.state == "SENDING")
                .values(state="FAILED", reason="OUTCOME_UNKNOWN_AFTER_RESTART")
            ).rowcount

    async def run(self) -> None:
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await self.tick()
            except Exception as error:
                log.error("tick_failed", error_type=type(error).__name__, exc_info=error)
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(self.config.tick.total_seconds() - elapsed, 0.01))

    async def tick(self) -> TickReport:
        report = TickReport()
        started = asyncio.get_running_loop().time()
        now = self.clock.now()
        due = await asyncio.to_thread(self._due_deadlines, now)
        outcomes = await asyncio.gather(*(self._guarded(self._check_deadline, d, now) for d in due))
        report.deadlines = len(due)
        for outcome in outcomes:
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        due_reminders = await asyncio.to_thread(self._due_reminders, now)
        done = await asyncio.gather(*(self._guarded(self._remind, r, now) for r in due_reminders))
        for reminder, outcome in zip(due_reminders, done, strict=True):
            self.metrics.count_reminder(reminder.channel, outcome)
        report.reminders = len(due_reminders)
        report.contacts_logged = await self._log_sent_reminders()
        report.webhooks = await self._post_alerts()
        report.seconds = asyncio.get_running_loop().time() - started
        return report

    async def _guarded(self, action: Any, row: Any, now: datetime) -> str:
        async with self._limit:
            return await action(row, now)

    # ------------------------------------------------------------- deadlines
    def _due_deadlines(self, now: datetime) -> list[Any]:
        return self.store.rows(
            select(deadlines)
            .where(deadlines.c.state == "PENDING", deadlines.c.fire_at <= now)
            .order_by(deadlines.c.fire_at)
            .limit(PER_TICK)
        )

    async def _check_deadline(self, deadline: Any, now: datetime) -> str:
        """Ask the case to mark the promise broken; the case decides. The alert follows from
        the PromiseBroken event, whoever caused it."""
        try:
            case = await self.cases.MarkPromiseBroken(
                svc.MarkPromiseBrokenRequest(
                    case_id=deadline.case_id,
                    promise_id=deadline.promise_id,
                    request_id=f"notify-broken-{deadline.deadline_id}",
                ),
                metadata=ACTOR,
                timeout=RPC_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            return await asyncio.to_thread(self._deadline_failed, deadline, error, now)
        promise = next(p for p in case.promises if p.promise_id == deadline.promise_id)
        outcome = pb.Promise.Status.Name(promise.status)
        await asyncio.to_thread(self._finish_deadline, deadline.deadline_id, outcome)
        return outcome

    def _deadline_failed(self, deadline: Any, error: grpc.aio.AioRpcError, now: datetime) -> str:
        reason, metadata = _reason(error)
        if reason == "PROMISE_NOT_DUE":
            # Either this instalment is covered (a later one is what is owed now), or our
            # clock runs ahead of the case service's: try again at the due time it gave.
            owed_from = datetime.fromisoformat(metadata["due_time"])
            if owed_from > utc(deadline.due_time):
                self._finish_deadline(deadline.deadline_id, "COVERED")
                return "COVERED"
            self._retry_deadline(deadline, max(owed_from, now + timedelta(seconds=1)))
            return "NOT_DUE_YET"
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            outcome = reason or error.code().name
            self._finish_deadline(deadline.deadline_id, outcome)
            return outcome
        backoff = self.config.retry_base * min(2**deadline.attempts, 32)
        self._retry_deadline(deadline, now + backoff)
        if not log_if_refused(log, error, "MarkPromiseBroken"):
            log.warning("mark_broken_retry", code=error.code().name, case_id=deadline.case_id)
        return "RETRY"

    def _finish_deadline(self, deadline_id: str, outcome: str) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(deadlines)
                .where(deadlines.c.deadline_id == deadline_id)
                .values(state="DONE", outcome=outcome)
            )

    def _retry_deadline(self, deadline: Any, at: datetime) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(deadlines)
                .where(deadlines.c.deadline_id == deadline.deadline_id)
                .values(fire_at=at, attempts=deadline.attempts + 1)
            )

    # ------------------------------------------------------------- reminders
    def _due_reminders(self, now: datetime) -> list[Any]:
        return self.store.rows(
            select(reminders)
            .where(reminders.c.state == "SCHEDULED", reminders.c.scheduled_for <= now)
            .order_by(reminders.c.scheduled_for)
            .limit(PER_TICK)
        )

    def _set_reminder(self, reminder_id: str, **values: Any) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(reminders).where(reminders.c.reminder_id == reminder_id).values(**values)
            )

    async def _remind(self, reminder: Any, now: datetime) -> str:
        try:
            case = await self.cases.GetCase(
                svc.GetCaseRequest(case_id=reminder.case_id), metadata=ACTOR, timeout=RPC_TIMEOUT
            )
            check = await self.cases.CheckContactPermitted(
                svc.CheckContactPermittedRequest(
                    case_id=reminder.case_id,
                    channel=pb.Channel.Value(reminder.channel),
                    at=to_timestamp(now),
                ),
                metadata=ACTOR,
                timeout=RPC_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            log_if_refused(log, error, "GetCase/CheckContactPermitted")
            await asyncio.to_thread(
                self._set_reminder,
                reminder.reminder_id,
                scheduled_for=now + self.config.retry_base,
                reason=f"CASE_SERVICE_{error.code().name}",
            )
            return "RETRY"
        due_time = utc(reminder.due_time)
        skip = "DUE_TIME_PASSED" if now >= due_time else _why_not_needed(case, reminder, due_time)
        if skip is None and not check.permitted:
            later = (
                check.next_permitted_time.ToDatetime(tzinfo=UTC)
                if check.HasField("next_permitted_time")
                else None
            )
            waits_for_time = later is not None and set(check.reasons) <= TIME_REASONS
            if waits_for_time and later < due_time:
                await asyncio.to_thread(
                    self._set_reminder,
                    reminder.reminder_id,
                    scheduled_for=later,
                    reason="SHIFTED:" + ",".join(check.reasons),
                )
                return "SHIFTED"
            # Holds, disputes and cease requests skip the reminder; TOO_LATE only says that
            # waiting for permitted hours would pass the due time.
            skip = ",".join(check.reasons) + (",TOO_LATE" if waits_for_time else "")
        if skip is None:
            address = case.debtor.email if reminder.channel == "EMAIL" else case.debtor.phone
            if not address:
                skip = "NO_ADDRESS"
        if skip is not None:
            await asyncio.to_thread(
                self._set_reminder, reminder.reminder_id, state="SKIPPED", reason=skip
            )
            return "SKIPPED"
        return await self._send(reminder, case, address, due_time, now)

    async def _send(
        self, reminder: Any, case: pb.Case, address: str, due_time: datetime, now: datetime
    ) -> str:
        attempts = reminder.attempts + 1
        # Committed before sending: after a crash we know not to send it again.
        await asyncio.to_thread(
            self._set_reminder, reminder.reminder_id, state="SENDING", attempts=attempts
        )
        promise = next(p for p in case.promises if p.promise_id == reminder.promise_id)
        text = _reminder_text(case, promise, due_time)
        try:
            with self.metrics.delivery(reminder.channel):
                if reminder.channel == "EMAIL":
                    await asyncio.to_thread(
                        send_email,
                        self.config.smtp_host,
                        self.config.smtp_port,
                        self.config.mail_from,
                        address,
                        "Payment reminder",
                        text,
                        reminder.reminder_id,
                    )
                else:
                    await asyncio.to_thread(
                        post_json,
                        self.config.sms_url,
                        {"to": address, "text": text, "reminder_id": reminder.reminder_id},
                        reminder.reminder_id,
                    )
        except DeliveryError as error:
            if error.permanent or attempts >= self.config.max_attempts:
                await asyncio.to_thread(
                    self._set_reminder, reminder.reminder_id, state="FAILED", reason=str(error)
                )
                return "FAILED"
            retry_at = now + self.config.retry_base * 2 ** (attempts - 1)
            await asyncio.to_thread(
                self._set_reminder,
                reminder.reminder_id,
                state="SCHEDULED",
                scheduled_for=retry_at,
                reason=f"RETRY:{error}",
            )
            return "RETRY"
        await asyncio.to_thread(
            self._set_reminder, reminder.reminder_id, state="SENT", sent_at=now, reason=""
        )
        return "SENT"

    async def _log_sent_reminders(self) -> int:
        """Each delivered reminder becomes a contact in the case's history (idempotent on the
        reminder id, so a retry after a crash logs it once)."""
        pending = await asyncio.to_thread(
            self.store.rows,
            select(reminders)
            .where(reminders.c.state == "SENT", reminders.c.logged_on_case.is_(False))
            .limit(PER_TICK),
        )

        async def log_one(reminder: Any) -> None:
            async with self._limit:
                try:
                    await self.cases.LogContact(
                        svc.LogContactRequest(
                            case_id=reminder.case_id,
                            request_id=f"notify-reminder-{reminder.reminder_id}",
                            channel=pb.Channel.Value(reminder.channel),
                            direction=pb.OUTBOUND,
                            outcome=pb.DELIVERED,
                            occurred_at=to_timestamp(utc(reminder.sent_at)),
                            agent_id="notify",
                            note=f"automated payment reminder {reminder.reminder_id}",
                        ),
                        metadata=ACTOR,
                        timeout=RPC_TIMEOUT,
                    )
                except grpc.aio.AioRpcError as error:
                    if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        log_if_refused(log, error, "LogContact")
                        return  # try again next tick
                    # Refused by a rule that changed since we checked: the refusal is
                    # now in the case's history, which is what an auditor needs.
                await asyncio.to_thread(
                    self._set_reminder, reminder.reminder_id, logged_on_case=True
                )

        await asyncio.gather(*(log_one(r) for r in pending))
        return len(pending)

    # ---------------------------------------------------------------- alerts
    async def _post_alerts(self) -> int:
        if not self.config.alert_webhook_url:
            return 0
        pending = await asyncio.to_thread(
            self.store.rows,
            select(alerts).where(alerts.c.webhook_state == "PENDING").limit(PER_TICK),
        )
        for alert in pending:
            body = {
                "alert_id": alert.alert_id,
                "kind": alert.kind,
                "case_id": alert.case_id,
                "promise_id": alert.promise_id,
                "raised_at": utc(alert.raised_at).isoformat(),
                "unpaid_minor": alert.unpaid_minor,
            }
            try:
                with self.metrics.delivery("webhook"):
                    await asyncio.to_thread(
                        post_json, self.config.alert_webhook_url, body, alert.alert_id
                    )
                state = "SENT"
            except DeliveryError as error:
                state = (
                    "FAILED"
                    if error.permanent or alert.webhook_attempts + 1 >= self.config.max_attempts
                    else "PENDING"
                )
            await asyncio.to_thread(
                self._set_webhook, alert.alert_id, state, alert.webhook_attempts + 1
            )
        return len(pending)

    def _set_webhook(self, alert_id: str, state: str, attempts: int) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.alert_id == alert_id)
                .values(webhook_state=state, webhook_attempts=attempts)
            )


def _why_not_needed(case: pb.Case, reminder: Any, due_time: datetime) -> str | None:
    promise = next((p for p in case.promises if p.promise_id == reminder.promise_id), None)
    if promise is None:
        return "PROMISE_UNKNOWN"
    if promise.status != pb.Promise.OPEN:
        return "PROMISE_" + pb.Promise.Status.Name(promise.status)
    for instalment in promise.instalments:
        paid = instalment.paid_minor >= instalment.amount_minor
        if paid and instalment.due_time.ToDatetime(tzinfo=UTC) == due_time:
            return "INSTALMENT_PAID"
    return None


def _reminder_text(case: pb.Case, promise: pb.Promise, due_time: datetime) -> str:
    """No debt details beyond what the debtor agreed to pay, in case someone else reads it.
    An instalment's reminder names what is still owed on that instalment."""
    local = due_time.astimezone(ZoneInfo(case.debtor.time_zone))
    instalment = next(
        (i for i in promise.instalments if i.due_time.ToDatetime(tzinfo=UTC) == due_time), None
    )
    owed = instalment or promise
    amount = owed.amount_minor - owed.paid_minor
    return (
        f"Reminder: the payment of {amount / 100:.2f} {promise.currency} you arranged is due "
        f"by {local:%Y-%m-%d %H:%M}. Reference {promise.promise_id[:8]}."
    )
