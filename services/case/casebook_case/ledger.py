"""The audit's view of the event store: stored case events as written (never upcast),
their hash chains, and digests over every case's head at a log position.

A digest fixes every case's head version and hash at a position. Checked later, a
matching digest plus chains that verify prove that nothing at or before that position
was changed, removed or added, even by someone who re-sealed a whole chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy import and_, func, select

from casebook_case.domain.chain import ChainReport, StoredCaseEvent, verify_chain
from casebook_case.history import CASE_EVENT_TOPICS
from casebook_case.signing import Signer

DIGEST_FORMAT = "casebook-ledger-digest-v1"


@dataclass(frozen=True)
class CaseHead:
    case_id: str
    version: int
    hash: str


@dataclass(frozen=True)
class LedgerDigest:
    position: int
    digest: str
    case_count: int
    signature: str = ""
    key_id: str = ""

    def signed_message(self) -> bytes:
        return signed_message(self.position, self.digest)


def signed_message(position: int, digest: str) -> bytes:
    """What the signature covers: the format, the position and the digest."""
    return f"{DIGEST_FORMAT} position={position} digest={digest}".encode()


def digest_of(position: int, heads: list[CaseHead]) -> str:
    """SHA-256 over one line per case, in case id order: `case_id version hash`."""
    hasher = hashlib.sha256(f"{DIGEST_FORMAT}\nposition {position}\n".encode())
    for head in sorted(heads, key=lambda h: h.case_id):
        hasher.update(f"{head.case_id} {head.version} {head.hash}\n".encode())
    return hasher.hexdigest()


class Ledger:
    PAGE = 1000

    def __init__(self, recorder: Any, mapper: Any, signer: Signer | None = None) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.signer = signer

    # ------------------------------------------------------------- per case
    def stored_events(self, case_id: UUID, from_version: int = 1) -> Iterator[StoredCaseEvent]:
        # From the start means everything stored, even a forged version 0 or below.
        after: int | None = None if from_version <= 1 else from_version - 1
        while True:
            page = self.recorder.select_events(case_id, gt=after, limit=self.PAGE)
            for stored in page:
                yield self._as_written(stored)
            if len(page) < self.PAGE:
                return
            after = page[-1].originator_version

    def verify_case(self, case_id: UUID) -> ChainReport:
        return verify_chain(self.stored_events(case_id))

    def case_ids(self) -> list[UUID]:
        """Every case with any stored event (a case whose first event was removed too)."""
        record = self.recorder.events_record_cls
        query = (
            select(record.originator_id)
            .where(record.topic.in_(CASE_EVENT_TOPICS))
            .group_by(record.originator_id)
            .order_by(func.min(record.id))
        )
        with self.recorder.transaction(commit=False) as session:
            return [UUID(str(row[0])) for row in session.execute(query)]

    # ------------------------------------------------------------ whole log
    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def heads(self, position: int) -> list[CaseHead]:
        """Each case's last event at or before `position`, with its hash recomputed from
        what is stored (so a head changed without re-sealing changes the digest too)."""
        record = self.recorder.events_record_cls
        last = (
            select(record.originator_id, func.max(record.originator_version).label("version"))
            .where(record.id <= position, record.topic.in_(CASE_EVENT_TOPICS))
            .group_by(record.originator_id)
            .subquery()
        )
        query = select(
            record.originator_id, record.originator_version, record.topic, record.state
        ).join(
            last,
            and_(
                record.originator_id == last.c.originator_id,
                record.originator_version == last.c.version,
            ),
        )
        with self.recorder.transaction(commit=False) as session:
            rows = session.execute(query).all()
        heads = []
        for case_id, version, topic, state in rows:
            stored = StoredEvent(case_id, version, topic, bytes(state))
            heads.append(CaseHead(str(case_id), version, self._as_written(stored).computed_hash()))
        return heads

    def digest(self, position: int) -> LedgerDigest:
        """The digest at a position (callers check it is within the log)."""
        heads = self.heads(position)
        digest = LedgerDigest(position, digest_of(position, heads), len(heads))
        if self.signer is None:
            return digest
        return LedgerDigest(
            position,
            digest.digest,
            digest.case_count,
            self.signer.sign(digest.signed_message()),
            self.signer.key_id,
        )

    # -------------------------------------------------------------- decoding
    def _as_written(self, stored: StoredEvent) -> StoredCaseEvent:
        """Decrypt and decode, but do not upcast: the chain covers what was written."""
        state = stored.state
        try:
            if self.mapper.cipher is not None:
                state = self.mapper.cipher.decrypt(state)
            if self.mapper.compressor is not None:
                state = self.mapper.compressor.decompress(state)
            fields = self.mapper.transcoder.decode(state)
        except Exception:  # a forged or damaged row: it cannot match any hash
            fields = {"undecodable": True}
        if not isinstance(fields, dict):
            fields = {"undecodable": True}
        return StoredCaseEvent(
            case_id=str(stored.originator_id),
            version=stored.originator_version,
            topic=stored.topic,
            fields=fields,
        )
