"""CaseService over gRPC: each RPC translates its request, calls the application in a worker
thread (the event store is synchronous), and translates the answer back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc
from casebook_case import commands as cmd
from casebook_case.api.convert import (
    case_to_proto,
    enum_name,
    event_to_proto,
    stats_to_proto,
    target_name,
    to_datetime,
    to_instalments,
    to_timestamp,
)
from casebook_case.api.errors import (
    actor_of,
    client_stream,
    reader_of,
    server_stream,
    status_for,
    unary,
)
from casebook_case.api.follow import LogWatcher
from casebook_case.application import CaseApplication, CommandResult
from casebook_case.config import CaseConfig
from casebook_case.domain.errors import InvalidArgument
from casebook_case.domain.values import ArrangementTerms
from casebook_case.history import CASE_EVENT_CLASSES
from casebook_case.imports import BATCH_SIZE, ImportTally, record_payments
from casebook_case.projections import ListQuery, ReadSide

PAGE_SIZE = 500
import_log = structlog.get_logger("casebook.import")


class CaseServicer(case_service_pb2_grpc.CaseServiceServicer):
    call_timeout: float | None = None  # seconds a unary call may take (see api/errors.unary)
    max_message_bytes = CaseConfig.max_message_bytes  # server.py sets the configured limit

    def __init__(self, app: CaseApplication, watcher: LogWatcher, read_side: ReadSide) -> None:
        self.app = app
        self.watcher = watcher
        self.read_side = read_side

    async def _run(self, command: cmd.Command, context: grpc.aio.ServicerContext) -> CommandResult:
        return await asyncio.to_thread(self.app.execute, command, actor_of(context), case_to_proto)

    @staticmethod
    def _shown(result: CommandResult) -> pb.Case:
        result.case.log_position = result.position  # for ListCases.min_position
        return result.case

    async def _command(self, command: cmd.Command, context: grpc.aio.ServicerContext) -> pb.Case:
        return self._shown(await self._run(command, context))

    # ---------------------------------------------------------------- commands
    @unary
    async def OpenCase(
        self, request: svc.OpenCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        debtor = request.debtor
        command = cmd.OpenCase(
            case_id="",
            request_id=request.request_id,
            account_id=request.account_id,
            debtor={
                "name": debtor.name,
                "phone": debtor.phone,
                "email": debtor.email,
                "address": debtor.address,
                "time_zone": debtor.time_zone,
                "id_number": debtor.id_number,
            },
            profile=request.profile,
            overdue_amount_minor=request.overdue_amount_minor,
            currency=request.currency,
            days_past_due=request.days_past_due,
            opened_at=to_datetime(request, "opened_at"),
        )
        result = await asyncio.to_thread(
            self.app.open_case, command, actor_of(context), case_to_proto
        )
        return self._shown(result)

    @unary
    async def LogContact(
        self, request: svc.LogContactRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.LogContact(
                **_common(request),
                channel=enum_name(pb.Channel, request.channel),
                direction=enum_name(pb.Direction, request.direction),
                outcome=enum_name(pb.ContactOutcome, request.outcome),
                occurred_at=to_datetime(request, "occurred_at"),
                agent_id=request.agent_id,
                note=request.note,
                target=target_name(request.target),
                debt_disclosed=request.debt_disclosed,
            ),
            context,
        )

    @unary
    async def RecordPromise(
        self, request: svc.RecordPromiseRequest, context: grpc.aio.ServicerContext
    ) -> svc.RecordPromiseResponse:
        result = await self._run(
            cmd.RecordPromise(
                **_common(request),
                amount_minor=request.amount_minor,
                due_time=to_datetime(request, "due_time"),
                payment_channel=enum_name(pb.PaymentChannel, request.payment_channel),
                instalments=to_instalments(request.instalments),
                replaces_promise_id=request.replaces_promise_id,
                note=request.note,
            ),
            context,
        )
        return svc.RecordPromiseResponse(case=self._shown(result), promise_id=result.result_id)

    @unary
    async def RecordPayment(
        self, request: svc.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> svc.RecordPaymentResponse:
        result = await self._run(
            cmd.RecordPayment(
                **_common(request),
                amount_minor=request.amount_minor,
                currency=request.currency,
                received_at=to_datetime(request, "received_at"),
                payment_reference=request.payment_reference,
            ),
            context,
        )
        return svc.RecordPaymentResponse(case=self._shown(result), payment_id=result.result_id)

    @unary
    async def MarkPromiseBroken(
        self, request: svc.MarkPromiseBrokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.MarkPromiseBroken(**_common(request), promise_id=request.promise_id), context
        )

    @unary
    async def IssueLetter(
        self, request: svc.IssueLetterRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.IssueLetter(
                **_common(request),
                letter_type=enum_name(pb.LetterType, request.letter_type),
                template_id=request.template_id,
            ),
            context,
        )

    @unary
    async def Escalate(
        self, request: svc.EscalateRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.Escalate(
                **_common(request),
                to_stage=enum_name(pb.Stage, request.to_stage),
                reason=request.reason,
            ),
            context,
        )

    @unary
    async def RaiseDispute(
        self, request: svc.RaiseDisputeRequest, context: grpc.aio.ServicerContext
    ) -> svc.RaiseDisputeResponse:
        result = await self._run(
            cmd.RaiseDispute(
                **_common(request),
                reason=request.reason,
                received_at=to_datetime(request, "received_at"),
            ),
            context,
        )
        return svc.RaiseDisputeResponse(case=self._shown(result), dispute_id=result.result_id)

    @unary
    async def ResolveDispute(
        self, request: svc.ResolveDisputeRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.ResolveDispute(
                **_common(request), dispute_id=request.dispute_id, resolution=request.resolution
            ),
            context,
        )

    @unary
    async def RecordCeaseRequest(
        self, request: svc.RecordCeaseRequestRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.RecordCeaseRequest(
                **_common(request),
                channel=enum_name(pb.Channel, request.channel),
                received_at=to_datetime(request, "received_at"),
                note=request.note,
            ),
            context,
        )

    @unary
    async def PlaceHold(
        self, request: svc.PlaceHoldRequest, context: grpc.aio.ServicerContext
    ) -> svc.PlaceHoldResponse:
        result = await self._run(
            cmd.PlaceHold(
                **_common(request),
                kind=enum_name(pb.HoldKind, request.kind),
                until=to_datetime(request, "until"),
                reason=request.reason,
            ),
            context,
        )
        return svc.PlaceHoldResponse(case=self._shown(result), hold_id=result.result_id)

    @unary
    async def ReleaseHold(
        self, request: svc.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.ReleaseHold(**_common(request), hold_id=request.hold_id, reason=request.reason),
            context,
        )

    @unary
    async def ProposeArrangement(
        self, request: svc.ProposeArrangementRequest, context: grpc.aio.ServicerContext
    ) -> svc.ProposeArrangementResponse:
        result = await self._run(
            cmd.ProposeArrangement(
                **_common(request),
                terms=ArrangementTerms(
                    kind=enum_name(pb.ArrangementKind, request.kind),
                    instalments=to_instalments(request.instalments),
                    deferred_until=to_datetime(request, "deferred_until"),
                    waiver_minor=request.waiver_minor,
                    settlement_amount_minor=request.settlement_amount_minor,
                    settlement_due_time=to_datetime(request, "settlement_due_time"),
                    payment_channel=enum_name(pb.PaymentChannel, request.payment_channel),
                    note=request.note,
                ),
            ),
            context,
        )
        return svc.ProposeArrangementResponse(
            case=self._shown(result), arrangement_id=result.result_id
        )

    @unary
    async def ApproveArrangement(
        self, request: svc.ApproveArrangementRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.ApproveArrangement(
                **_common(request), arrangement_id=request.arrangement_id, note=request.note
            ),
            context,
        )

    @unary
    async def CloseCase(
        self, request: svc.CloseCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.CloseCase(
                **_common(request),
                reason=enum_name(pb.CloseReason, request.reason),
                note=request.note,
            ),
            context,
        )

    @unary
    async def AssignCase(
        self, request: svc.AssignCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await self._command(
            cmd.AssignCase(**_common(request), assignee=request.assignee, note=request.note),
            context,
        )

    # ------------------------------------------------------------------- reads
    @unary
    async def GetCase(
        self, request: svc.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.Case:
        return await asyncio.to_thread(
            self.app.get_case,
            request.case_id,
            as_of_version=request.as_of_version,
            as_of_time=to_datetime(request, "as_of_time"),
            show=case_to_proto,
            reader=reader_of(context, "GetCase"),
        )

    @unary
    async def CheckContactPermitted(
        self, request: svc.CheckContactPermittedRequest, context: grpc.aio.ServicerContext
    ) -> svc.CheckContactPermittedResponse:
        decision = await asyncio.to_thread(
            self.app.check_contact,
            request.case_id,
            enum_name(pb.Channel, request.channel),
            to_datetime(request, "at"),
        )
        return svc.CheckContactPermittedResponse(
            permitted=decision.permitted,
            reasons=[r.reason for r in decision.refusals],
            next_permitted_time=to_timestamp(decision.next_permitted_time),
            profile=decision.profile_id,
            profile_version=decision.profile_version,
        )

    @server_stream
    async def GetCaseHistory(
        self, request: svc.GetCaseHistoryRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.CaseEvent]:
        unknown = [t for t in request.types if t not in CASE_EVENT_CLASSES]
        if unknown:
            raise InvalidArgument.single("types", f"unknown event types: {', '.join(unknown)}")
        if request.from_version < 0:
            raise InvalidArgument.single("from_version", "must not be negative")
        wanted = set(request.types)
        from_version = request.from_version or 1
        detail = f"from_version={from_version}"
        if wanted:
            detail += " types=" + ",".join(sorted(wanted))
        events = self.app.history(
            request.case_id,
            from_version=from_version,
            reader=reader_of(context, "GetCaseHistory"),
            detail=detail,
        )
        while True:
            page = await asyncio.to_thread(_take, events, PAGE_SIZE)
            for event in page:
                if not wanted or type(event).__name__ in wanted:
                    yield event_to_proto(event)
            if len(page) < PAGE_SIZE:
                return

    # ----------------------------------------------------------- worklists
    @unary
    async def ListCases(
        self, request: svc.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> svc.ListCasesResponse:
        page = await self.read_side.list_cases(
            ListQuery(
                filter=request.filter,
                order_by=request.order_by,
                page_size=request.page_size,
                page_token=request.page_token,
                min_position=request.min_position,
            ),
            show=case_to_proto,
            reader=reader_of(context, "ListCases"),
        )
        return svc.ListCasesResponse(cases=page.cases, next_page_token=page.next_page_token)

    @unary
    async def GetPortfolioStats(
        self, request: svc.GetPortfolioStatsRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetPortfolioStatsResponse:
        stats = await self.read_side.portfolio_stats(
            to_datetime(request, "start_time"), to_datetime(request, "end_time")
        )
        return stats_to_proto(stats)

    # ------------------------------------------------------------------- audit
    @unary
    async def VerifyCaseHistory(
        self, request: svc.VerifyCaseHistoryRequest, context: grpc.aio.ServicerContext
    ) -> svc.VerifyCaseHistoryResponse:
        report = await asyncio.to_thread(
            self.app.verify_case, request.case_id, reader_of(context, "VerifyCaseHistory")
        )
        return svc.VerifyCaseHistoryResponse(
            ok=report.ok,
            event_count=report.event_count,
            head_hash=report.head_hash,
            first_bad_version=report.first_bad_version,
            problem=report.problem,
        )

    @unary
    async def GetLedgerDigest(
        self, request: svc.GetLedgerDigestRequest, context: grpc.aio.ServicerContext
    ) -> svc.GetLedgerDigestResponse:
        digest = await asyncio.to_thread(self.app.ledger_digest, request.position)
        return svc.GetLedgerDigestResponse(
            position=digest.position,
            digest=digest.digest,
            signature=digest.signature,
            key_id=digest.key_id,
            case_count=digest.case_count,
        )

    @server_stream
    async def SubscribeEvents(
        self, request: svc.SubscribeEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[svc.SubscribeEventsResponse]:
        """Catch up from after_position, then follow. One page is read only after the one
        before has been handed to gRPC, so a slow consumer holds one page, not the log."""
        if request.after_position < 0:
            raise InvalidArgument.single("after_position", "must not be negative")
        if request.max_events_per_message < 0:
            raise InvalidArgument.single("max_events_per_message", "must not be negative")
        head = await asyncio.to_thread(self.app.head_position)
        if request.after_position > head:
            raise InvalidArgument.single(
                "after_position", f"is beyond the head of the log ({head}); no such position"
            )
        per_message = min(request.max_events_per_message, PAGE_SIZE)
        byte_budget = self.max_message_bytes // 4
        position = request.after_position
        with self.watcher.following(position) as sent:  # what the metrics show of this stream
            while True:
                head = self.watcher.head
                read, messages = await asyncio.to_thread(
                    _log_messages, self.app, position, per_message, byte_budget
                )
                for last, message in messages:
                    yield message
                    position = sent.position = last
                if read < PAGE_SIZE:
                    # Everything committed up to `head` has been read: wait for more.
                    position = sent.position = max(position, head)
                    await self.watcher.wait_beyond(head)

    # ------------------------------------------------------------------ bulk
    @client_stream
    async def ImportPayments(
        self,
        requests: AsyncIterator[svc.ImportPaymentsRequest],
        context: grpc.aio.ServicerContext,
    ) -> svc.ImportPaymentsResponse:
        """Each item is a RecordPayment (see imports.py). A batch is written while the next
        one is read off the stream; a client that cancels keeps what was committed."""
        actor = actor_of(context)
        tally = ImportTally()
        batch: list[cmd.RecordPayment] = []
        writing: asyncio.Future[None] | None = None

        async def write(first_index: int, commands: list[cmd.RecordPayment]) -> None:
            outcomes = await asyncio.to_thread(record_payments, self.app, commands, actor)
            tally.add(first_index, commands, outcomes)

        read = 0
        async for request in requests:
            batch.append(
                cmd.RecordPayment(
                    case_id=request.case_id,
                    amount_minor=request.amount_minor,
                    currency=request.currency,
                    received_at=to_datetime(request, "received_at"),
                    payment_reference=request.payment_reference,
                )
            )
            read += 1
            if len(batch) == BATCH_SIZE:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(write(read - len(batch), batch))
                batch = []
        if writing is not None:
            await writing
        if batch:
            await write(read - len(batch), batch)
        import_log.info(
            "import",
            received=tally.received,
            recorded=tally.recorded,
            duplicates=tally.duplicates,
            failed=tally.failed,
        )
        return svc.ImportPaymentsResponse(
            received=tally.received,
            recorded=tally.recorded,
            duplicates=tally.duplicates,
            failed=tally.failed,
            errors=[
                svc.ImportError(
                    index=index,
                    payment_reference=reference,
                    code=status.code.name,
                    message=status.details,
                )
                for index, reference, error in tally.errors
                for status in [status_for(error)]
            ],
        )


def _common(request: Any) -> dict[str, Any]:
    return {
        "case_id": request.case_id,
        "request_id": request.request_id,
        "expected_version": request.expected_version,
    }


def _take(iterator: Any, count: int) -> list[Any]:
    taken = []
    for item in iterator:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _log_messages(
    app: CaseApplication, after: int, per_message: int, byte_budget: int
) -> tuple[int, list[tuple[int, svc.SubscribeEventsResponse]]]:
    """One page of the log: how many events it held, and its SubscribeEvents messages, each
    with the position of its last event: one event each, or up to `per_message` in `events`
    and below `byte_budget` bytes. Runs in a worker thread, so decoding never holds up the
    server's loop."""
    page = [event_to_proto(event, position) for position, event in app.read_log(after, PAGE_SIZE)]
    if per_message <= 1:
        return len(page), [(e.position, svc.SubscribeEventsResponse(event=e)) for e in page]
    messages: list[tuple[int, svc.SubscribeEventsResponse]] = []
    batch: list[pb.CaseEvent] = []
    size = 0
    for event in page:
        event_size = event.ByteSize() + 8  # the field's tag and length
        if batch and (len(batch) == per_message or size + event_size > byte_budget):
            messages.append((batch[-1].position, svc.SubscribeEventsResponse(events=batch)))
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        messages.append((batch[-1].position, svc.SubscribeEventsResponse(events=batch)))
    return len(page), messages
