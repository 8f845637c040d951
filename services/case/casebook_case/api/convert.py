"""Translation between protobuf messages and the domain: nothing else lives here."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.domain.canonical import canonical_json
from casebook_case.domain.case import Case
from casebook_case.domain.values import Instalment
from casebook_case.history import event_payload, event_type
from casebook_case.projections.stats import PortfolioStats
from casebook_common.timestamps import to_timestamp

_TARGETS = {
    "CONTACT_TARGET_UNSPECIFIED": "DEBTOR",
    "DEBTOR": "DEBTOR",
    "REFERENCE_CONTACT": "THIRD_PARTY",
}


def enum_name(enum_type: Any, value: int) -> str:
    """The value's name; "" for the unspecified value (the field was left out); a name no
    enum has for a number this contract does not define, so validation rejects it."""
    if value == 0:
        return ""
    try:
        return str(enum_type.Name(value))
    except ValueError:
        return f"UNDEFINED_{value}"


def target_name(value: int) -> str:
    name = enum_name(pb.ContactTarget, value)
    return _TARGETS.get(name or "CONTACT_TARGET_UNSPECIFIED", name)


def to_datetime(message: Any, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    ts: Timestamp = getattr(message, field)
    return ts.ToDatetime(tzinfo=UTC)


def to_instalments(messages: Any) -> list[Instalment]:
    return [
        Instalment(
            amount_minor=m.amount_minor,
            due_time=to_datetime(m, "due_time") or datetime.min.replace(tzinfo=UTC),
        )
        for m in messages
    ]


def instalments_to_proto(instalments: list[Instalment]) -> list[pb.Instalment]:
    return [
        pb.Instalment(
            amount_minor=i.amount_minor, due_time=to_timestamp(i.due_time), paid_minor=i.paid_minor
        )
        for i in instalments
    ]


def etag(case: Case) -> str:
    return hashlib.sha256(f"{case.id}:{case.version}".encode()).hexdigest()[:20]


def case_to_proto(case: Case, at: datetime) -> pb.Case:
    """The case as shown at instant `at` (days past due and stage depend on it)."""
    return pb.Case(
        case_id=str(case.id),
        account_id=case.account_id,
        debtor=pb.Debtor(**case.debtor),
        profile=case.profile,
        stage=pb.Stage.Value(case.stage_at(at)),
        days_past_due=case.days_past_due_at(at),
        currency=case.currency,
        overdue_amount_minor=case.overdue_amount_minor,
        balance_minor=case.balance_minor,
        paid_minor=case.paid_minor,
        overpaid_minor=case.overpaid_minor,
        waived_minor=case.waived_minor,
        promises=[
            pb.Promise(
                promise_id=p.promise_id,
                amount_minor=p.amount_minor,
                currency=case.currency,
                due_time=to_timestamp(p.due_time),
                # Optional on arrangements: "" leaves it unspecified.
                payment_channel=pb.PaymentChannel.Value(
                    p.payment_channel or "PAYMENT_CHANNEL_UNSPECIFIED"
                ),
                status=pb.Promise.Status.Value(p.status),
                paid_minor=p.paid_minor,
                instalments=instalments_to_proto(p.instalments),
                recorded_at=to_timestamp(p.recorded_at),
                arrangement_id=p.arrangement_id,
                replaced_by_promise_id=p.replaced_by_promise_id,
                status_reason=p.status_reason,
            )
            for p in case.promises.values()
        ],
        payments=[
            pb.Payment(
                payment_id=p.payment_id,
                payment_reference=p.payment_reference,
                amount_minor=p.amount_minor,
                currency=case.currency,
                received_at=to_timestamp(p.received_at),
                overpayment_minor=p.overpayment_minor,
                allocated_promise_ids=p.allocated_promise_ids,
            )
            for p in case.payments
        ],
        arrangements=[
            pb.Arrangement(
                arrangement_id=a.arrangement_id,
                kind=pb.ArrangementKind.Value(a.terms.kind),
                status=pb.Arrangement.Status.Value(a.status),
                instalments=instalments_to_proto(a.terms.instalments),
                deferred_until=to_timestamp(a.terms.deferred_until),
                waiver_minor=a.terms.waiver_minor,
                settlement_amount_minor=a.terms.settlement_amount_minor,
                settlement_due_time=to_timestamp(a.terms.settlement_due_time),
                requires_approval=a.requires_approval,
                proposed_by=a.proposed_by,
                approved_by=a.approved_by,
                note=a.terms.note,
            )
            for a in case.arrangements.values()
        ],
        disputes=[
            pb.Dispute(
                dispute_id=d.dispute_id,
                status=pb.Dispute.Status.Value(d.status),
                reason=d.reason,
                raised_at=to_timestamp(d.raised_at),
                resolved_at=to_timestamp(d.resolved_at),
                resolution=d.resolution,
            )
            for d in case.disputes.values()
        ],
        ceased_channels=[pb.Channel.Value(c) for c in case.ceased_channels],
        letters=[
            pb.Letter(
                letter_type=pb.LetterType.Value(letter.letter_type),
                template_id=letter.template_id,
                template_version=letter.template_version,
                content_sha256=letter.content_sha256,
                issued_at=to_timestamp(letter.issued_at),
            )
            for letter in case.letters
        ],
        contact_attempts=case.contact_attempts,
        right_party_contacts=case.right_party_contacts,
        last_contact_time=to_timestamp(case.last_contact_time),
        close_reason=pb.CloseReason.Value(case.close_reason) if case.close_reason else 0,
        opened_at=to_timestamp(case.opened_at),
        updated_at=to_timestamp(case.last_recorded_at),
        version=case.version,
        etag=etag(case),
        holds=[
            pb.Hold(
                hold_id=h.hold_id,
                kind=pb.HoldKind.Value(h.kind),
                since=to_timestamp(h.since),
                until=to_timestamp(h.until),
                released_at=to_timestamp(h.released_at),
                reason=h.reason,
                active=h.active_at(at),
            )
            for h in case.holds.values()
        ],
        assignee=case.assignee,
    )


def event_to_proto(event: Case.Event, position: int = 0) -> pb.CaseEvent:
    return pb.CaseEvent(
        position=position,
        case_id=str(event.originator_id),
        version=event.originator_version,
        type=event_type(event),
        occurred_at=to_timestamp(event.occurred_at),
        recorded_at=to_timestamp(event.timestamp),
        actor=event.actor,
        request_id=event.request_id,
        payload_json=canonical_json(event_payload(event)),
        previous_hash=event.previous_hash,
        hash=event.hash,
    )


def stats_to_proto(stats: PortfolioStats) -> svc.GetPortfolioStatsResponse:
    promises = stats.promises
    return svc.GetPortfolioStatsResponse(
        cases_per_stage=stats.cases_per_stage,
        promises=svc.PromiseOutcomes(
            fell_due=promises.fell_due,
            kept=promises.kept,
            broken=promises.broken,
            open=promises.open,
            withdrawn=promises.withdrawn,
            kept_rate=promises.kept_rate,
            broken_rate=promises.broken_rate,
        ),
        amounts=[
            svc.CurrencyTotals(
                currency=a.currency,
                promises_recorded=a.promises_recorded,
                promised_minor=a.promised_minor,
                payments_received=a.payments_received,
                collected_minor=a.collected_minor,
            )
            for a in stats.amounts
        ],
        contacts=[
            svc.ChannelContacts(
                channel=pb.Channel.Value(c.channel),
                attempts=c.attempts,
                right_party_contacts=c.right_party_contacts,
                right_party_rate=c.right_party_rate,
                inbound=c.inbound,
            )
            for c in stats.contacts
        ],
        start_time=to_timestamp(stats.start),
        end_time=to_timestamp(stats.end),
        position=stats.position,
    )
