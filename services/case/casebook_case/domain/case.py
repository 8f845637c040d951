"""The Case aggregate: one delinquent account's collection history and the rules of its life.

Commands are verbs that check the rules and trigger events; events are past-tense facts
that only change state (`evolve`), never check rules, so old histories always replay.
Event class paths are stored with every event: do not rename or move them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from casebook_case.compliance.engine import Decision, check_contact, check_escalation
from casebook_case.compliance.facts import CaseFacts, ContactIntent, Hold, IssuedLetter, PastContact
from casebook_case.compliance.profiles import Profile
from casebook_case.domain.chain import GENESIS, seal, sealed_document
from casebook_case.domain.errors import InvalidArgument, NotFound, Refused, case_closed
from casebook_case.domain.values import (
    STAGE_LADDER,
    ArrangementKind,
    ArrangementState,
    ArrangementStatus,
    ArrangementTerms,
    ContactState,
    DisputeState,
    HoldState,
    Instalment,
    LetterState,
    PaymentState,
    PromiseState,
    PromiseStatus,
    RequestRecord,
    Stage,
    party_reached,
    stage_for_dpd,
)


@dataclass(frozen=True)
class CommandMeta:
    """Who asks, under which request id, and when: stamped on every event a command makes."""

    actor: str
    now: datetime
    request_id: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class Allocation:
    promise_id: str
    amount_minor: int


class Case(Aggregate):
    # ------------------------------------------------------------------ events
    class Event(Aggregate.Event):
        """Every case event: who (actor), when it happened (occurred_at), when it was
        recorded (timestamp, shown as recorded_at), under which request; and its place in
        the case's hash chain (see domain/chain.py)."""

        actor: str
        occurred_at: datetime
        request_id: str
        request_fingerprint: str
        previous_hash: str
        hash: str = field(init=False, default="")

        def __post_init__(self) -> None:
            super().__post_init__()
            # Sealed once, when the event is made; events loaded from the store keep the
            # hash they were written with (they are not constructed again).
            fields = {k: v for k, v in vars(self).items() if k != "hash"}
            document = sealed_document(
                get_topic(type(self)),
                getattr(type(self), "class_version", 1),
                str(self.originator_id),
                self.originator_version,
                fields,
            )
            object.__setattr__(self, "hash", seal(document))

        def apply(self, case: Case) -> None:
            self.evolve(case)
            case.last_recorded_at = self.timestamp
            case.head_hash = self.hash
            if self.request_id:
                previous = case.requests.get(self.request_id)
                case.requests[self.request_id] = RequestRecord(
                    version=self.originator_version,
                    fingerprint=self.request_fingerprint,
                    # A command's result is the first id its events make (the arrangement,
                    # not the promise its approval then records).
                    result_id=(previous.result_id if previous else "") or self.result_id(),
                )
                self.note_refusal(case.requests[self.request_id])

        def evolve(self, case: Case) -> None:
            """How this fact changes the case. Subclasses override; no rule checks here."""

        def result_id(self) -> str:
            """The id a command returns to its caller (promise_id, ...), if this event made one."""
            return ""

        def note_refusal(self, record: RequestRecord) -> None:
            """Refusal events leave their reasons, so a retry meets the same refusal."""

    class CaseOpened(Event, Aggregate.Created):
        account_id: str
        debtor: dict[str, str]
        profile: str
        currency: str
        overdue_amount_minor: int
        days_past_due: int

        def evolve(self, case: Case) -> None:
            case.account_id = self.account_id
            case.debtor = dict(self.debtor)
            case.profile = self.profile
            case.currency = self.currency
            case.overdue_amount_minor = self.overdue_amount_minor
            case.dpd_at_open = self.days_past_due
            case.opened_at = self.occurred_at
            case.balance_minor = self.overdue_amount_minor
            case.paid_minor = 0
            case.overpaid_minor = 0
            case.waived_minor = 0
            case.paid_off_at = None
            case.promises = {}
            case.payments = []
            case.payment_references = {}
            case.arrangements = {}
            case.disputes = {}
            case.ceased_channels = []
            case.letters = []
            case.contacts = []
            case.contact_attempts = 0
            case.right_party_contacts = 0
            case.last_contact_time = None
            case.escalated_stage = None
            case.closed_at = None
            case.close_reason = ""
            case.holds = {}
            case.requests = {}

    class ContactLogged(Event):
        channel: str
        direction: str
        outcome: str
        target: str
        party_reached: str
        right_party_verified: bool
        debt_disclosed: bool
        agent_id: str
        note: str
        profile: str
        profile_version: int

        def evolve(self, case: Case) -> None:
            case.contacts.append(
                ContactState(
                    at=self.occurred_at,
                    channel=self.channel,
                    direction=self.direction,
                    outcome=self.outcome,
                    target=self.target,
                )
            )
            case.contact_attempts += 1
            if self.right_party_verified:
                case.right_party_contacts += 1
            if case.last_contact_time is None or self.occurred_at > case.last_contact_time:
                case.last_contact_time = self.occurred_at

    class ContactRefused(Event):
        """A contact the conduct rules did not allow: kept so auditors see blocked attempts."""

        channel: str
        direction: str
        outcome: str
        target: str
        debt_disclosed: bool
        agent_id: str
        reasons: list[str]
        next_permitted_time: datetime | None
        profile: str
        profile_version: int

        def note_refusal(self, record: RequestRecord) -> None:
            record.refused_reasons = list(self.reasons)
            record.next_permitted_time = self.next_permitted_time

    class HoldPlaced(Event):
        hold_id: str
        kind: str
        until: datetime | None
        reason: str

        def evolve(self, case: Case) -> None:
            case.holds[self.hold_id] = HoldState(
                hold_id=self.hold_id,
                kind=self.kind,
                since=self.occurred_at,
                until=self.until,
                reason=self.reason,
            )

        def result_id(self) -> str:
            return self.hold_id

    class HoldReleased(Event):
        hold_id: str
        reason: str

        def evolve(self, case: Case) -> None:
            case.holds[self.hold_id].released_at = self.occurred_at

    class PromiseRecorded(Event):
        promise_id: str
        amount_minor: int
        due_time: datetime
        payment_channel: str
        instalments: list[Instalment]
        arrangement_id: str
        note: str

        def evolve(self, case: Case) -> None:
            case.promises[self.promise_id] = PromiseState(
                promise_id=self.promise_id,
                amount_minor=self.amount_minor,
                due_time=self.due_time,
                payment_channel=self.payment_channel,
                instalments=_fresh(self.instalments),
                recorded_at=self.timestamp,
                arrangement_id=self.arrangement_id,
            )

        def result_id(self) -> str:
            return self.promise_id

    class PromiseSuperseded(Event):
        promise_id: str
        by_promise_id: str
        reason: str

        def evolve(self, case: Case) -> None:
            promise = case.promises[self.promise_id]
            promise.status = PromiseStatus.SUPERSEDED
            promise.replaced_by_promise_id = self.by_promise_id
            promise.status_reason = self.reason

    class PaymentRecorded(Event):
        payment_id: str
        payment_reference: str
        amount_minor: int
        currency: str
        allocations: list[dict[str, Any]]
        overpayment_minor: int
        balance_after_minor: int

        def evolve(self, case: Case) -> None:
            case.payments.append(
                PaymentState(
                    payment_id=self.payment_id,
                    payment_reference=self.payment_reference,
                    amount_minor=self.amount_minor,
                    received_at=self.occurred_at,
                    overpayment_minor=self.overpayment_minor,
                    allocated_promise_ids=[a["promise_id"] for a in self.allocations],
                )
            )
            case.payment_references[self.payment_reference] = self.payment_id
            for allocation in self.allocations:
                promise = case.promises[allocation["promise_id"]]
                promise.paid_minor += allocation["amount_minor"]
                _spread_over_instalments(promise)
            case.paid_minor += self.amount_minor
            case.overpaid_minor += self.overpayment_minor
            case.balance_minor = self.balance_after_minor
            if case.balance_minor == 0 and case.paid_off_at is None:
                case.paid_off_at = self.occurred_at

        def result_id(self) -> str:
            return self.payment_id

    class PromiseKept(Event):
        promise_id: str

        def evolve(self, case: Case) -> None:
            case.promises[self.promise_id].status = PromiseStatus.KEPT

    class PromiseBroken(Event):
        promise_id: str
        missed_due_time: datetime
        unpaid_minor: int

        def evolve(self, case: Case) -> None:
            case.promises[self.promise_id].status = PromiseStatus.BROKEN

    class PromiseCancelled(Event):
        promise_id: str
        reason: str

        def evolve(self, case: Case) -> None:
            promise = case.promises[self.promise_id]
            promise.status = PromiseStatus.CANCELLED
            promise.status_reason = self.reason

    class LetterIssued(Event):
        letter_type: str
        template_id: str
        template_version: int
        content_sha256: str

        def evolve(self, case: Case) -> None:
            case.letters.append(
                LetterState(
                    letter_type=self.letter_type,
                    template_id=self.template_id,
                    template_version=self.template_version,
                    content_sha256=self.content_sha256,
                    issued_at=self.occurred_at,
                )
            )

    class Escalated(Event):
        from_stage: str
        to_stage: str
        reason: str

        def evolve(self, case: Case) -> None:
            case.escalated_stage = self.to_stage

    class DisputeRaised(Event):
        dispute_id: str
        reason: str

        def evolve(self, case: Case) -> None:
            case.disputes[self.dispute_id] = DisputeState(
                dispute_id=self.dispute_id, reason=self.reason, raised_at=self.occurred_at
            )

        def result_id(self) -> str:
            return self.dispute_id

    class DisputeResolved(Event):
        dispute_id: str
        resolution: str

        def evolve(self, case: Case) -> None:
            dispute = case.disputes[self.dispute_id]
            dispute.status = "RESOLVED"
            dispute.resolved_at = self.occurred_at
            dispute.resolution = self.resolution

    class CeaseRequestRecorded(Event):
        channel: str
        note: str

        def evolve(self, case: Case) -> None:
            if self.channel not in case.ceased_channels:
                case.ceased_channels.append(self.channel)

    class ArrangementProposed(Event):
        arrangement_id: str
        terms: ArrangementTerms
        requires_approval: bool
        approval_limit_minor: int

        def evolve(self, case: Case) -> None:
            case.arrangements[self.arrangement_id] = ArrangementState(
                arrangement_id=self.arrangement_id,
                terms=replace(self.terms, instalments=_fresh(self.terms.instalments)),
                status=ArrangementStatus.PENDING_APPROVAL,
                requires_approval=self.requires_approval,
                proposed_by=self.actor,
            )

        def result_id(self) -> str:
            return self.arrangement_id

    class ArrangementApproved(Event):
        arrangement_id: str
        automatic: bool
        note: str

        def evolve(self, case: Case) -> None:
            arrangement = case.arrangements[self.arrangement_id]
            arrangement.status = ArrangementStatus.APPROVED
            arrangement.approved_by = self.actor

    class BalanceWaived(Event):
        arrangement_id: str
        amount_minor: int
        balance_after_minor: int

        def evolve(self, case: Case) -> None:
            case.waived_minor += self.amount_minor
            case.balance_minor = self.balance_after_minor
            if case.balance_minor == 0 and case.paid_off_at is None:
                case.paid_off_at = self.occurred_at

    class CaseClosed(Event):
        reason: str
        note: str

        def evolve(self, case: Case) -> None:
            case.closed_at = self.occurred_at
            case.close_reason = self.reason

    class CaseAssigned(Event):
        """The case was given to someone to work (actor: who assigned it; note: why)."""

        assignee: str
        previous_assignee: str
        note: str

        def evolve(self, case: Case) -> None:
            case.assignee = self.assignee

    # Attributes set by CaseOpened.evolve, declared for readers and type checkers.
    account_id: str
    debtor: dict[str, str]
    profile: str
    currency: str
    overdue_amount_minor: int
    dpd_at_open: int
    opened_at: datetime
    balance_minor: int
    paid_minor: int
    overpaid_minor: int
    waived_minor: int
    paid_off_at: datetime | None
    promises: dict[str, PromiseState]
    payments: list[PaymentState]
    payment_references: dict[str, str]
    arrangements: dict[str, ArrangementState]
    disputes: dict[str, DisputeState]
    ceased_channels: list[str]
    letters: list[LetterState]
    contacts: list[ContactState]
    contact_attempts: int
    right_party_contacts: int
    last_contact_time: datetime | None
    escalated_stage: str | None
    holds: dict[str, HoldState]
    closed_at: datetime | None
    close_reason: str
    requests: dict[str, RequestRecord]
    last_recorded_at: datetime
    head_hash: str
    # Set by CaseAssigned only (not by CaseOpened), so cases and snapshots stored before
    # assignment existed replay unchanged and read as unassigned.
    assignee: str = ""

    def __init__(self) -> None:
        # The library would otherwise build __init__ from the annotations above;
        # all state is set by CaseOpened.evolve, the same way on every replay.
        pass

    # ---------------------------------------------------------------- commands
    @classmethod
    def open(
        cls,
        case_id: UUID,
        meta: CommandMeta,
        *,
        account_id: str,
        debtor: dict[str, str],
        profile: str,
        currency: str,
        overdue_amount_minor: int,
        days_past_due: int,
        opened_at: datetime,
    ) -> Case:
        return cls._create(
            cls.CaseOpened,
            id=case_id,
            timestamp=meta.now,
            actor=meta.actor,
            occurred_at=opened_at,
            request_id=meta.request_id,
            request_fingerprint=meta.fingerprint,
            previous_hash=GENESIS,
            account_id=account_id,
            debtor=debtor,
            profile=profile,
            currency=currency,
            overdue_amount_minor=overdue_amount_minor,
            days_past_due=days_past_due,
        )

    def _record(
        self,
        event_class: type[Case.Event],
        meta: CommandMeta,
        *,
        occurred_at: datetime | None = None,
        **fields: Any,
    ) -> None:
        # recorded_at never runs backwards within a case, even across replicas with
        # skewed clocks, so "as of time" can search the history by version.
        recorded_at = max(meta.now, self.last_recorded_at)
        self.trigger_event(
            event_class,
            timestamp=recorded_at,
            actor=meta.actor,
            occurred_at=occurred_at or meta.now,
            request_id=meta.request_id,
            request_fingerprint=meta.fingerprint,
            previous_hash=self.head_hash,
            **fields,
        )

    def _require_open(self) -> None:
        if self.is_closed:
            raise case_closed()

    def log_contact(
        self,
        meta: CommandMeta,
        *,
        channel: str,
        direction: str,
        outcome: str,
        occurred_at: datetime,
        agent_id: str,
        note: str,
        target: str,
        debt_disclosed: bool,
        profile: Profile,
    ) -> Refused | None:
        """Records the contact if the conduct rules allow it; otherwise records the refusal
        and returns it (the caller stores the refusal, then reports it)."""
        intent = ContactIntent(
            channel=channel,
            direction=direction,
            at=occurred_at,
            target=target,
            outcome=outcome,
            debt_disclosed=debt_disclosed,
        )
        decision = check_contact(self.compliance_facts(), intent, profile)
        if not decision.permitted:
            self._record(
                Case.ContactRefused,
                meta,
                occurred_at=occurred_at,
                channel=channel,
                direction=direction,
                outcome=outcome,
                target=target,
                debt_disclosed=debt_disclosed,
                agent_id=agent_id,
                reasons=[r.reason for r in decision.refusals],
                next_permitted_time=decision.next_permitted_time,
                profile=profile.id,
                profile_version=profile.version,
            )
            return refusal_of(decision)
        self._record(
            Case.ContactLogged,
            meta,
            occurred_at=occurred_at,
            channel=channel,
            direction=direction,
            outcome=outcome,
            target=target,
            party_reached=party_reached(outcome),
            right_party_verified=outcome == "RIGHT_PARTY_VERIFIED",
            debt_disclosed=debt_disclosed,
            agent_id=agent_id,
            note=note,
            profile=profile.id,
            profile_version=profile.version,
        )
        return None

    def contact_decision(self, channel: str, at: datetime, profile: Profile) -> Decision:
        """Would an outbound contact to the debtor on `channel` at `at` be allowed?"""
        intent = ContactIntent(channel=channel, direction="OUTBOUND", at=at)
        return check_contact(self.compliance_facts(), intent, profile)

    def compliance_facts(self) -> CaseFacts:
        """What the conduct rules need to know of this case."""
        return CaseFacts(
            time_zone=self.debtor["time_zone"],
            closed=self.is_closed,
            ceased_channels=frozenset(self.ceased_channels),
            dispute_open=any(d.status == "OPEN" for d in self.disputes.values()),
            holds=tuple(
                Hold(kind=h.kind, since=h.since, until=h.ends_at()) for h in self.holds.values()
            ),
            contacts=tuple(
                PastContact(
                    at=c.at,
                    channel=c.channel,
                    direction=c.direction,
                    outcome=c.outcome,
                    target=c.target,
                )
                for c in self.contacts
            ),
            letters=tuple(IssuedLetter(x.letter_type, x.issued_at) for x in self.letters),
        )

    def place_hold(
        self, meta: CommandMeta, *, kind: str, until: datetime | None, reason: str
    ) -> str:
        self._require_open()
        hold_id = str(uuid4())
        self._record(Case.HoldPlaced, meta, hold_id=hold_id, kind=kind, until=until, reason=reason)
        return hold_id

    def release_hold(self, meta: CommandMeta, *, hold_id: str, reason: str) -> None:
        hold = self.holds.get(hold_id)
        if hold is None:
            raise NotFound("hold", hold_id)
        if not hold.active_at(meta.now):
            raise Refused("HOLD_NOT_ACTIVE", "the hold has already ended")
        self._record(Case.HoldReleased, meta, hold_id=hold_id, reason=reason)

    def record_promise(
        self,
        meta: CommandMeta,
        *,
        amount_minor: int,
        due_time: datetime,
        payment_channel: str,
        instalments: list[Instalment],
        replaces_promise_id: str = "",
        note: str = "",
        arrangement_id: str = "",
    ) -> str:
        self._require_open()
        if amount_minor > self.balance_minor:
            raise Refused(
                "PROMISE_EXCEEDS_BALANCE",
                f"promised {amount_minor} exceeds the outstanding balance {self.balance_minor}",
                {"balance_minor": str(self.balance_minor)},
            )
        replaced = self._open_promise(replaces_promise_id) if replaces_promise_id else None
        schedule = instalments or [Instalment(amount_minor=amount_minor, due_time=due_time)]
        promise_id = str(uuid4())
        self._record(
            Case.PromiseRecorded,
            meta,
            promise_id=promise_id,
            amount_minor=amount_minor,
            due_time=schedule[-1].due_time,
            payment_channel=payment_channel,
            instalments=_fresh(schedule),
            arrangement_id=arrangement_id,
            note=note,
        )
        if replaced is not None:
            self._record(
                Case.PromiseSuperseded,
                meta,
                promise_id=replaced.promise_id,
                by_promise_id=promise_id,
                reason="replaced by a new promise",
            )
        return promise_id

    def _open_promise(self, promise_id: str) -> PromiseState:
        promise = self.promises.get(promise_id)
        if promise is None:
            raise NotFound("promise", promise_id)
        if promise.status != PromiseStatus.OPEN:
            raise Refused(
                "PROMISE_NOT_OPEN",
                f"promise is {promise.status}, not OPEN",
                {"promise_id": promise_id, "status": str(promise.status)},
            )
        return promise

    def record_payment(
        self,
        meta: CommandMeta,
        *,
        payment_reference: str,
        amount_minor: int,
        currency: str,
        received_at: datetime,
    ) -> str:
        self._require_open()
        if currency != self.currency:
            raise InvalidArgument.single(
                "currency", f"payment currency {currency} differs from the case's {self.currency}"
            )
        allocations = self._allocate(amount_minor, received_at)
        applied = min(amount_minor, self.balance_minor)
        payment_id = str(uuid4())
        self._record(
            Case.PaymentRecorded,
            meta,
            occurred_at=received_at,
            payment_id=payment_id,
            payment_reference=payment_reference,
            amount_minor=amount_minor,
            currency=currency,
            allocations=[
                {"promise_id": a.promise_id, "amount_minor": a.amount_minor} for a in allocations
            ],
            overpayment_minor=amount_minor - applied,
            balance_after_minor=self.balance_minor - applied,
        )
        for allocation in allocations:
            promise = self.promises[allocation.promise_id]
            if promise.paid_minor >= promise.amount_minor:
                self._record(Case.PromiseKept, meta, promise_id=promise.promise_id)
                self._settle_if_settlement(meta, promise)
        return payment_id

    def _allocate(self, amount_minor: int, received_at: datetime) -> list[Allocation]:
        """Oldest open promise first; a promise already past due cannot be kept any more."""
        remaining = amount_minor
        allocations = []
        for promise in self.promises.values():
            if remaining == 0:
                break
            if promise.status != PromiseStatus.OPEN or received_at > promise.due_time:
                continue
            share = min(remaining, promise.amount_minor - promise.paid_minor)
            if share > 0:
                allocations.append(Allocation(promise.promise_id, share))
                remaining -= share
        return allocations

    def _settle_if_settlement(self, meta: CommandMeta, promise: PromiseState) -> None:
        """A kept settlement promise forgives the rest of the balance."""
        arrangement = self.arrangements.get(promise.arrangement_id)
        if arrangement is None or arrangement.terms.kind != ArrangementKind.SETTLEMENT:
            return
        if self.balance_minor > 0:
            self._record(
                Case.BalanceWaived,
                meta,
                arrangement_id=arrangement.arrangement_id,
                amount_minor=self.balance_minor,
                balance_after_minor=0,
            )

    def mark_promise_broken(self, meta: CommandMeta, *, promise_id: str) -> bool:
        """Returns whether the promise was broken now; False when it was already settled."""
        promise = self.promises.get(promise_id)
        if promise is None:
            raise NotFound("promise", promise_id)
        if promise.status != PromiseStatus.OPEN:
            return False  # idempotent: KEPT, BROKEN, CANCELLED or SUPERSEDED stay as they are
        self._require_open()
        missed = promise.first_shortfall_due_time()
        if missed is None:
            return False
        if meta.now <= missed:
            raise Refused(
                "PROMISE_NOT_DUE",
                "the promise is not yet due",
                {"due_time": missed.isoformat()},
            )
        self._record(
            Case.PromiseBroken,
            meta,
            promise_id=promise_id,
            missed_due_time=missed,
            unpaid_minor=promise.owed_by(missed) - promise.paid_minor,
        )
        return True

    def issue_letter(
        self,
        meta: CommandMeta,
        *,
        letter_type: str,
        template_id: str,
        template_version: int,
        content_sha256: str,
    ) -> None:
        self._require_open()
        self._record(
            Case.LetterIssued,
            meta,
            letter_type=letter_type,
            template_id=template_id,
            template_version=template_version,
            content_sha256=content_sha256,
        )

    def escalate(self, meta: CommandMeta, *, to_stage: str, reason: str, profile: Profile) -> None:
        self._require_open()
        if to_stage == Stage.CLOSED:
            raise InvalidArgument.single("to_stage", "a case is closed with CloseCase")
        current = self.stage_at(meta.now)
        if STAGE_LADDER.index(Stage(to_stage)) <= STAGE_LADDER.index(current):
            raise Refused(
                "INVALID_STAGE_TRANSITION",
                f"cannot escalate from {current} to {to_stage}",
                {"from_stage": str(current), "to_stage": to_stage},
            )
        refusals = check_escalation(self.compliance_facts(), to_stage, meta.now, profile)
        if refusals:
            raise Refused(
                refusals[0].reason,
                "; ".join(r.message for r in refusals),
                {"reasons": ",".join(r.reason for r in refusals)},
                [(r.reason, r.message) for r in refusals],
            )
        self._record(
            Case.Escalated, meta, from_stage=str(current), to_stage=to_stage, reason=reason
        )

    def raise_dispute(self, meta: CommandMeta, *, reason: str, received_at: datetime) -> str:
        self._require_open()
        dispute_id = str(uuid4())
        self._record(
            Case.DisputeRaised, meta, occurred_at=received_at, dispute_id=dispute_id, reason=reason
        )
        return dispute_id

    def resolve_dispute(self, meta: CommandMeta, *, dispute_id: str, resolution: str) -> None:
        self._require_open()
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise NotFound("dispute", dispute_id)
        if dispute.status != "OPEN":
            raise Refused("DISPUTE_NOT_OPEN", "the dispute is already resolved")
        self._record(Case.DisputeResolved, meta, dispute_id=dispute_id, resolution=resolution)

    def record_cease_request(
        self, meta: CommandMeta, *, channel: str, received_at: datetime, note: str
    ) -> None:
        # A closed case still records a cease request: it binds any future reopening.
        self._record(
            Case.CeaseRequestRecorded, meta, occurred_at=received_at, channel=channel, note=note
        )

    def propose_arrangement(
        self, meta: CommandMeta, *, terms: ArrangementTerms, approval_limit_minor: int
    ) -> str:
        self._require_open()
        self._check_arrangement_fits_balance(terms)
        arrangement_id = str(uuid4())
        requires_approval = terms.concession_minor(self.balance_minor) > approval_limit_minor
        self._record(
            Case.ArrangementProposed,
            meta,
            arrangement_id=arrangement_id,
            terms=terms,
            requires_approval=requires_approval,
            approval_limit_minor=approval_limit_minor,
        )
        if not requires_approval:
            self._approve(meta, self.arrangements[arrangement_id], automatic=True, note="")
        return arrangement_id

    def _check_arrangement_fits_balance(self, terms: ArrangementState) -> None:
        if terms.kind == ArrangementKind.INSTALMENT_PLAN:
            total = sum(i.amount_minor for i in terms.instalments)
            if total > self.balance_minor:
                raise Refused(
                    "ARRANGEMENT_EXCEEDS_BALANCE",
                    f"instalments total {total} exceed the balance {self.balance_minor}",
                )
        if terms.kind == ArrangementKind.WAIVER and terms.waiver_minor > self.balance_minor:
            raise Refused("ARRANGEMENT_EXCEEDS_BALANCE", "waiver exceeds the balance")
        if (
            terms.kind == ArrangementKind.SETTLEMENT
            and terms.settlement_amount_minor > self.balance_minor
        ):
            raise Refused("ARRANGEMENT_EXCEEDS_BALANCE", "settlement exceeds the balance")

    def approve_arrangement(self, meta: CommandMeta, *, arrangement_id: str, note: str) -> None:
        self._require_open()
        arrangement = self.arrangements.get(arrangement_id)
        if arrangement is None:
            raise NotFound("arrangement", arrangement_id)
        if arrangement.status == ArrangementStatus.APPROVED:
            raise Refused("ARRANGEMENT_ALREADY_APPROVED", "the arrangement is already approved")
        self._check_arrangement_fits_balance(arrangement.terms)
        self._approve(meta, arrangement, automatic=False, note=note)

    def _approve(
        self, meta: CommandMeta, arrangement: ArrangementState, *, automatic: bool, note: str
    ) -> None:
        """Approval puts the terms into force: a promise to track, or a waiver."""
        self._record(
            Case.ArrangementApproved,
            meta,
            arrangement_id=arrangement.arrangement_id,
            automatic=automatic,
            note=note,
        )
        terms = arrangement.terms
        if terms.kind == ArrangementKind.WAIVER:
            self._record(
                Case.BalanceWaived,
                meta,
                arrangement_id=arrangement.arrangement_id,
                amount_minor=terms.waiver_minor,
                balance_after_minor=self.balance_minor - terms.waiver_minor,
            )
            return
        if terms.kind == ArrangementKind.INSTALMENT_PLAN:
            schedule = _fresh(terms.instalments)
        elif terms.kind == ArrangementKind.DEFERRAL:
            assert terms.deferred_until is not None
            schedule = [Instalment(self.balance_minor, terms.deferred_until)]
        else:  # SETTLEMENT
            assert terms.settlement_due_time is not None
            schedule = [Instalment(terms.settlement_amount_minor, terms.settlement_due_time)]
        new_promise_id = self.record_promise(
            meta,
            amount_minor=sum(i.amount_minor for i in schedule),
            due_time=schedule[-1].due_time,
            payment_channel=terms.payment_channel,
            instalments=schedule,
            arrangement_id=arrangement.arrangement_id,
        )
        # The arrangement replaces whatever was promised before it.
        for promise in list(self.promises.values()):
            if promise.status == PromiseStatus.OPEN and promise.promise_id != new_promise_id:
                self._record(
                    Case.PromiseSuperseded,
                    meta,
                    promise_id=promise.promise_id,
                    by_promise_id=new_promise_id,
                    reason=f"replaced by arrangement {arrangement.arrangement_id}",
                )

    def assign(self, meta: CommandMeta, *, assignee: str, note: str) -> None:
        self._require_open()
        if assignee == self.assignee:
            return  # already theirs: nothing to record
        self._record(
            Case.CaseAssigned,
            meta,
            assignee=assignee,
            previous_assignee=self.assignee,
            note=note,
        )

    def close(self, meta: CommandMeta, *, reason: str, note: str) -> None:
        self._require_open()
        if reason == "PAID_IN_FULL" and self.balance_minor > 0:
            raise Refused(
                "BALANCE_OUTSTANDING",
                f"a balance of {self.balance_minor} is still owed",
                {"balance_minor": str(self.balance_minor)},
            )
        for promise in list(self.promises.values()):
            if promise.status == PromiseStatus.OPEN:
                self._record(
                    Case.PromiseCancelled,
                    meta,
                    promise_id=promise.promise_id,
                    reason=f"case closed: {reason}",
                )
        self._record(Case.CaseClosed, meta, reason=reason, note=note)

    # ------------------------------------------------------------------ queries
    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def days_past_due_at(self, instant: datetime) -> int:
        """DPD advances one per calendar day in the debtor's zone, from the DPD at opening,
        and stops when the case is closed or the balance is paid off."""
        for stop in (self.closed_at, self.paid_off_at):
            if stop is not None and stop < instant:
                instant = stop
        zone = ZoneInfo(self.debtor["time_zone"])
        elapsed = (instant.astimezone(zone).date() - self.opened_at.astimezone(zone).date()).days
        return max(self.dpd_at_open + elapsed, 0)

    def stage_at(self, instant: datetime) -> Stage:
        if self.is_closed:
            return Stage.CLOSED
        by_dpd = stage_for_dpd(self.days_past_due_at(instant))
        if self.escalated_stage is None:
            return by_dpd
        escalated = Stage(self.escalated_stage)
        return max(by_dpd, escalated, key=STAGE_LADDER.index)


def refusal_of(decision: Decision) -> Refused:
    """A contact decision that said no, as the refusal reported to the caller."""
    metadata = {
        "reasons": ",".join(r.reason for r in decision.refusals),
        "profile": decision.profile_id,
        "profile_version": str(decision.profile_version),
    }
    if decision.next_permitted_time is not None:
        metadata["next_permitted_time"] = decision.next_permitted_time.isoformat()
    return Refused(
        decision.refusals[0].reason,
        "; ".join(r.message for r in decision.refusals),
        metadata,
        [(r.reason, r.message) for r in decision.refusals],
    )


def _fresh(instalments: list[Instalment]) -> list[Instalment]:
    """Copies, so state that changes (paid_minor) never reaches back into an event."""
    return [replace(i) for i in instalments]


def _spread_over_instalments(promise: PromiseState) -> None:
    """Show what has been paid towards each instalment, oldest first."""
    left = promise.paid_minor
    for instalment in promise.instalments:
        instalment.paid_minor = min(left, instalment.amount_minor)
        left -= instalment.paid_minor
