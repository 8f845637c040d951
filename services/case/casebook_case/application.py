"""The case application: runs commands against stored cases, safely under retries and
concurrent writers, and reads cases, histories and the global log back."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from casebook_case.access_log import AccessEntry, AccessLog, Reader
from casebook_case.commands import Command, OpenCase, Policy, RecordPayment, Violations
from casebook_case.compliance.engine import Decision
from casebook_case.compliance.profiles import get_profile
from casebook_case.domain.case import Case, CommandMeta
from casebook_case.domain.chain import ChainReport
from casebook_case.domain.claims import UniqueKey, derived_id
from casebook_case.domain.errors import (
    AlreadyExists,
    Contention,
    DomainError,
    InvalidArgument,
    NotFound,
    Refused,
    VersionConflict,
)
from casebook_case.domain.values import (
    ArrangementState,
    ArrangementTerms,
    ContactState,
    DisputeState,
    HoldState,
    Instalment,
    LetterState,
    PaymentState,
    PromiseState,
    RequestRecord,
)
from casebook_case.domain.values import Channel as ContactChannel
from casebook_case.history import CASE_EVENT_TOPICS
from casebook_case.ledger import Ledger, LedgerDigest
from casebook_case.signing import Signer
from casebook_common.clock import Clock, SystemClock
from casebook_common.schema import schema_locked

if TYPE_CHECKING:
    from casebook_case.metrics import CaseMetrics

# Names are stored in snapshots: never rename.
_STATE_CLASSES = (
    Instalment,
    PromiseState,
    PaymentState,
    ArrangementTerms,
    ArrangementState,
    DisputeState,
    LetterState,
    ContactState,
    HoldState,
    RequestRecord,
)


class DataclassAsDict(Transcoding):
    """Stores a state dataclass as its fields; nested values go through the transcoder."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


T = TypeVar("T")
# How a caller wants to see a case: built while the case is locked (see _lock_for).
Show = Callable[[Case, datetime], Any]


def as_is(case: Case, at: datetime) -> Case:
    """The case object itself: for in-process callers that use it straight away."""
    return case


@dataclass(frozen=True)
class CommandResult(Generic[T]):
    case: T  # what `show` made of the case after the command
    result_id: str = ""
    replayed: bool = False  # a retry answered from the stored outcome; nothing written
    # Log position of the last event written; for a call that wrote nothing, the head of
    # the log when it was answered (whatever an earlier call wrote is at or before it).
    position: int = 0


def sqlalchemy_url(db_url: str) -> str:
    """Make sure a SQLite file's folder exists, and let writers wait for each other."""
    if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
        path = Path(db_url.removeprefix("sqlite:///").split("?")[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        if "timeout=" not in db_url:
            db_url += ("&" if "?" in db_url else "?") + "timeout=30"
    return db_url


class CaseApplication(Application[UUID]):
    # The name prefixes the tables: casebook_events, casebook_snapshots.
    name = "casebook"
    snapshotting_intervals = {Case: 100}
    MAX_ATTEMPTS = 40
    metrics: CaseMetrics | None = None  # set by the server: counts the events committed

    def __init__(
        self,
        db_url: str,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        cache_size: int = 1000,
        signer: Signer | None = None,
        cipher_key: str = "",
    ) -> None:
        self.clock = clock or SystemClock()
        self.policy = policy or Policy()
        # One lock per stripe of cases: commands on one case in this process wait for
        # each other instead of colliding; other replicas are handled by retrying.
        self._case_locks = [threading.Lock() for _ in range(256)]
        self._listeners: list[Callable[[int], None]] = []
        encryption = (
            {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": cipher_key}
            if cipher_key
            else {}
        )
        super().__init__(
            env={
                **encryption,
                "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": sqlalchemy_url(db_url),
                "AGGREGATE_CACHE_MAXSIZE": str(cache_size),
                # Copying a cached case costs as much as the case is long. Instead each
                # case is only used under its lock, views are made under that lock, and a
                # case a command failed on is dropped from the cache (_evict).
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
                "CREATE_TABLE": "n",  # below, under the schema lock
            }
        )
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        with schema_locked(datastore.engine):
            self.recorder.create_table()  # type: ignore[attr-defined]
            if self.snapshots is not None:
                self.snapshots.recorder.create_table()  # type: ignore[attr-defined]
            self.access_log = AccessLog(datastore)
        self.ledger = Ledger(self.recorder, self.mapper, signer)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The settings passed in above, and nothing from the process environment.
        eventsourcing would merge os.environ and look up CASEBOOK_<SETTING> before each
        setting: the service's own CASEBOOK_CIPHER_KEY (even empty, beside
        CASEBOOK_CIPHER_KEY_FILE) or a stray SQLALCHEMY_URL would override CaseConfig."""
        settings = dict(type(self).env)
        if type(self).is_snapshotting_enabled or type(self).snapshotting_intervals:
            settings["IS_SNAPSHOTTING_ENABLED"] = "y"
        settings.update(env or {})
        return Environment(name, settings)

    def close(self) -> None:
        self.access_log.close()
        super().close()

    def stored_events_readable(self) -> bool:
        """Whether the first stored event decrypts and decodes: a wrong or missing cipher key
        shows here, at start, rather than as failures on every read."""
        first = self.recorder.select_notifications(start=1, limit=1)
        if not first:
            return True
        try:
            self.mapper.to_domain_event(first[0])
        except Exception:
            return False
        return True

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for cls in _STATE_CLASSES:
            transcoder.register(DataclassAsDict(cls))

    # ---------------------------------------------------------------- commands
    def open_case(self, command: OpenCase, actor: str, show: Show = as_is) -> CommandResult:
        """Idempotent on request_id: the case id is derived from it."""
        command.validate_open(self.clock.now(), self.policy)
        case_id = derived_id("open-case", command.request_id)
        fingerprint = command.fingerprint()
        with self._lock_for(case_id):
            for _ in range(self.MAX_ATTEMPTS):
                existing = self._find(case_id)
                if existing is not None:
                    return self._replay(existing, command.request_id, fingerprint, show)
                now = self.clock.now()
                case = Case.open(
                    case_id,
                    CommandMeta(actor, now, command.request_id, fingerprint),
                    account_id=command.account_id,
                    debtor=dict(command.debtor),
                    profile=command.profile or self.policy.default_profile,
                    currency=command.currency,
                    overdue_amount_minor=command.overdue_amount_minor,
                    days_past_due=command.days_past_due,
                    opened_at=command.opened_at or now,
                )
                try:
                    recordings = self.save(case)
                except IntegrityError:
                    continue  # another replica opened it first: answer as a retry
                return CommandResult(
                    show(case, self.clock.now()), position=_last_position(recordings)
                )
        raise Contention("too many concurrent attempts to open this case")

    def execute(self, command: Command, actor: str, show: Show = as_is) -> CommandResult:
        """Run a command on an existing case: validated, idempotent, retried on conflicts."""
        command.validate(self.clock.now())
        case_id = parse_case_id(command.case_id)
        fingerprint = command.fingerprint()
        with self._lock_for(case_id):
            for attempt in range(self.MAX_ATTEMPTS):
                case = self._get(case_id)
                if command.request_id and command.request_id in case.requests:
                    return self._replay(case, command.request_id, fingerprint, show)
                previous = self._previous_payment(case, command)
                if previous is not None:
                    return CommandResult(
                        show(case, self.clock.now()),
                        previous,
                        replayed=True,
                        position=self.head_position(),
                    )
                if command.expected_version and case.version != command.expected_version:
                    raise VersionConflict(command.expected_version, case.version)
                meta = CommandMeta(actor, self.clock.now(), command.request_id, fingerprint)
                try:
                    outcome = command.run(case, meta, self.policy)
                    if not case.pending_events:  # nothing to change (a no-op)
                        return CommandResult(
                            show(case, meta.now), str(outcome), position=self.head_position()
                        )
                    recordings = self.save(case, *self._claims(case, command, meta))
                except IntegrityError:
                    # Someone else wrote this case (or claimed the key) since we read it.
                    self._evict(case_id)
                    if command.expected_version:
                        raise VersionConflict(command.expected_version, -1) from None
                    time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))
                    continue
                except BaseException:
                    self._evict(case_id)  # the cached case may hold half a command
                    raise
                if isinstance(outcome, Refused):
                    raise outcome  # recorded (ContactRefused), now reported
                return CommandResult(
                    show(case, meta.now), outcome, position=_last_position(recordings)
                )
        raise Contention("too many concurrent writers on this case; retry later")

    def _evict(self, case_id: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(case_id, evict=True)

    def _replay(self, case: Case, request_id: str, fingerprint: str, show: Show) -> CommandResult:
        record = case.requests[request_id]
        if record.fingerprint != fingerprint:
            raise AlreadyExists(
                "REQUEST_ID_REUSED", "request_id was already used for a different request"
            )
        if record.refused_reasons:
            metadata = {"reasons": ",".join(record.refused_reasons)}
            if record.next_permitted_time is not None:
                metadata["next_permitted_time"] = record.next_permitted_time.isoformat()
            raise Refused(
                record.refused_reasons[0],
                "contact refused: " + ", ".join(record.refused_reasons),
                metadata,
                [(reason, reason) for reason in record.refused_reasons],
            )
        original: Case = self.repository.get(case.id, version=record.version)
        return CommandResult(
            show(original, self.clock.now()),
            record.result_id,
            replayed=True,
            position=self.head_position(),
        )

    def _previous_payment(self, case: Case, command: Command) -> str | None:
        """RecordPayment is idempotent on payment_reference, with or without request_id:
        returns the id of the payment already recorded under it."""
        if not isinstance(command, RecordPayment):
            return None
        payment_id = case.payment_references.get(command.payment_reference)
        if payment_id is None:
            return None
        payment = next(p for p in case.payments if p.payment_id == payment_id)
        if payment.amount_minor != command.amount_minor or (
            command.currency and command.currency != case.currency
        ):
            raise AlreadyExists(
                "PAYMENT_REFERENCE_REUSED",
                "payment_reference was already recorded with a different amount",
            )
        return payment_id

    def _claims(self, case: Case, command: Command, meta: CommandMeta) -> list[UniqueKey]:
        if not isinstance(command, RecordPayment):
            return []
        key = payment_reference_key(command.payment_reference)
        claim = self._find_claim(key)
        if claim is not None and claim.case_id != str(case.id):
            raise reference_on_another_case()
        return [UniqueKey.claim(key, str(case.id), meta.now)]

    def _find_claim(self, key: str) -> UniqueKey | None:
        try:
            return self.repository.get(derived_id("unique-key", key))
        except AggregateNotFoundError:
            return None

    def _lock_for(self, case_id: UUID) -> threading.Lock:
        return self._case_locks[case_id.int % len(self._case_locks)]

    # ------------------------------------------------------------------- reads
    def _find(self, case_id: UUID) -> Case | None:
        try:
            case = self.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return case if isinstance(case, Case) else None

    def _get(self, case_id: UUID) -> Case:
        case = self._find(case_id)
        if case is None:
            raise NotFound("case", str(case_id))
        return case

    def get_case(
        self,
        case_id: str,
        *,
        as_of_version: int = 0,
        as_of_time: datetime | None = None,
        show: Show = as_is,
        reader: Reader | None = None,
        detail: str = "",
    ) -> Any:
        """The case now, or as it stood after a version or at a recorded instant, shown at
        the instant its days past due are to be counted at. A reader's access is logged."""
        if not detail and as_of_version:
            detail = f"as_of_version={as_of_version}"
        if not detail and as_of_time is not None:
            detail = f"as_of_time={as_of_time.isoformat()}"
        with self._accessed(reader, case_id, detail):
            return self._case_as_of(case_id, as_of_version, as_of_time, show)

    def _case_as_of(
        self, case_id: str, as_of_version: int, as_of_time: datetime | None, show: Show
    ) -> Any:
        if as_of_version and as_of_time:
            raise InvalidArgument.single("as_of_time", "give as_of_version or as_of_time, not both")
        if as_of_version < 0:
            raise InvalidArgument.single("as_of_version", "must not be negative")
        uuid = parse_case_id(case_id)
        with self._lock_for(uuid):
            current = self._get(uuid)
            if not as_of_time and not as_of_version:
                return show(current, self.clock.now())
            head = current.version
        if as_of_time is not None:
            version = self._version_at(uuid, head, as_of_time)
            if version == 0:
                raise NotFound("case at that time", case_id)
            return show(self.repository.get(uuid, version=version), as_of_time)
        if as_of_version > head:
            raise NotFound(f"version {as_of_version} of case", case_id)
        past: Case = self.repository.get(uuid, version=as_of_version)
        return show(past, past.last_recorded_at)

    def get_cases(
        self,
        case_ids: list[str],
        *,
        show: Show = as_is,
        reader: Reader | None = None,
        detail: str = "",
    ) -> list[Any]:
        """Several cases as they are now, in the order asked (one no longer found is left
        out). Each case read is one access-log entry; all are committed together, before the
        answer is given."""
        shown: list[Any] = []
        entries: list[AccessEntry] = []

        def note(case_id: str, outcome: str) -> None:
            if reader is not None:
                entries.append(
                    AccessEntry(
                        accessed_at=self.clock.now(),
                        actor=reader.actor,
                        action=reader.via,
                        case_id=case_id,
                        request_id=reader.request_id,
                        detail=detail,
                        outcome=outcome,
                    )
                )

        try:
            for case_id in case_ids:
                try:
                    shown.append(self._case_as_of(case_id, 0, None, show))
                except NotFound:
                    note(case_id, "NotFound")
                else:
                    note(case_id, "OK")
        except Exception:
            note(case_id, "ERROR")
            raise
        finally:
            if entries:
                self.access_log.record_all(entries)
        return shown

    def check_contact(self, case_id: str, channel: str, at: datetime | None) -> Decision:
        """Would an outbound contact be allowed at `at` (default now)? Writes nothing."""
        violations = Violations()
        violations.choice("channel", channel, ContactChannel)
        violations.raise_if_any()
        uuid = parse_case_id(case_id)
        with self._lock_for(uuid):
            case = self._get(uuid)
            return case.contact_decision(channel, at or self.clock.now(), get_profile(case.profile))

    def _version_at(self, case_id: UUID, head: int, instant: datetime) -> int:
        """Last version recorded at or before `instant`: recorded_at never decreases along
        a case's versions, so a binary search reads about log2(versions) events."""
        low, high = 0, head
        while low < high:
            middle = (low + high + 1) // 2
            (event,) = self.events.get(case_id, gt=middle - 1, lte=middle)
            if event.timestamp <= instant:
                low = middle
            else:
                high = middle - 1
        return low

    def history(
        self,
        case_id: str,
        *,
        from_version: int = 1,
        page_size: int = 500,
        reader: Reader | None = None,
        detail: str = "",
    ) -> Iterator[Case.Event]:
        """Every event of the case in version order, read a page at a time."""
        with self._accessed(reader, case_id, detail or f"from_version={from_version}"):
            uuid = parse_case_id(case_id)
            with self._lock_for(uuid):
                self._get(uuid)
        after = max(from_version, 1) - 1
        while True:
            page = list(self.events.get(uuid, gt=after, limit=page_size))
            yield from page  # type: ignore[misc]
            if len(page) < page_size:
                return
            after = page[-1].originator_version

    # ------------------------------------------------------------------- audit
    def verify_case(self, case_id: str, reader: Reader | None = None) -> ChainReport:
        """Recompute the case's hash chain from the events as stored."""
        with self._accessed(reader, case_id, "verify"):
            uuid = parse_case_id(case_id)
            report = self.ledger.verify_case(uuid)
            if report.event_count == 0:
                raise NotFound("case", case_id)
            if report.ok:
                bad_snapshot = self._bad_snapshot(uuid)
                if bad_snapshot is not None:
                    return dataclasses.replace(
                        report,
                        ok=False,
                        head_hash="",
                        first_bad_version=bad_snapshot,
                        problem=f"the snapshot at version {bad_snapshot} does not match the "
                        "events up to it",
                    )
            return report

    def _bad_snapshot(self, case_id: UUID) -> int | None:
        """Snapshots are what GetCase starts from, so they are checked too: each must equal
        the case replayed from its events up to the snapshot's version."""
        if self.snapshots is None:
            return None
        snapshots = {s.originator_version: s for s in self.snapshots.get(case_id)}
        if not snapshots:
            return None
        case = None
        for event in self.events.get(case_id, lte=max(snapshots)):
            case = event.mutate(case)  # type: ignore[arg-type]
            snapshot = snapshots.pop(event.originator_version, None)
            if snapshot is not None and _state(snapshot.mutate(None)) != _state(case):
                return event.originator_version
        return min(snapshots) if snapshots else None  # snapshots of versions never written

    def ledger_digest(self, position: int = 0) -> LedgerDigest:
        """The (signed) digest over every case's head at a log position; default now."""
        head = self.ledger.head_position()
        if position < 0:
            raise InvalidArgument.single("position", "must not be negative")
        if position > head:
            raise InvalidArgument.single("position", f"is beyond the head of the log ({head})")
        return self.ledger.digest(position or head)

    @contextlib.contextmanager
    def _accessed(self, reader: Reader | None, case_id: str, detail: str) -> Iterator[None]:
        """Log a read in the access log, with its outcome, before its answer is given."""
        if reader is None:  # in-process use by the service itself (notify's reads come
            yield  # in over gRPC, as readers)
            return
        outcome = "OK"
        try:
            yield
        except DomainError as error:
            outcome = type(error).__name__
            raise
        except Exception:
            outcome = "ERROR"
            raise
        finally:
            self.access_log.record(
                AccessEntry(
                    accessed_at=self.clock.now(),
                    actor=reader.actor,
                    action=reader.via,
                    case_id=str(case_id),
                    request_id=reader.request_id,
                    detail=detail,
                    outcome=outcome,
                )
            )

    def read_log(self, after_position: int, limit: int = 500) -> list[tuple[int, Case.Event]]:
        """Case events in commit order after a position (other records are skipped)."""
        notifications = self.recorder.select_notifications(
            start=after_position + 1, limit=limit, topics=CASE_EVENT_TOPICS
        )
        return [(n.id, self.mapper.to_domain_event(n)) for n in notifications]  # type: ignore[misc]

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ------------------------------------------------------------- followers
    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Called (from the writing thread) after each local commit with the commit's last
        log position: wakes followers at once instead of at their next poll."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[int], None]) -> None:
        self._listeners.remove(listener)

    def _notify(self, recordings: list[Any]) -> None:
        if self.metrics is not None:
            self.metrics.count_appended(recordings)
        position = _last_position(recordings)
        for listener in list(self._listeners):
            listener(position)


def payment_reference_key(reference: str) -> str:
    """The unique key a payment reference is claimed under (stored: never change)."""
    return f"payment-reference:{reference}"


def reference_on_another_case() -> AlreadyExists:
    return AlreadyExists(
        "PAYMENT_REFERENCE_REUSED", "payment_reference was already recorded on another case"
    )


def _last_position(recordings: list[Any]) -> int:
    return max((r.notification.id for r in recordings), default=0)


def _state(case: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def parse_case_id(case_id: str) -> UUID:
    try:
        return UUID(case_id)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument.single("case_id", "is not a case id") from None
