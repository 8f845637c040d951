"""Claims on keys that must be unique across all cases (a payment reference posted once)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

# Fixed forever: ids derived from it are stored.
CASEBOOK_NAMESPACE = uuid5(NAMESPACE_URL, "urn:casebook")


def derived_id(kind: str, key: str) -> UUID:
    """A stable id for a natural key, so two writers racing on one key collide in the store."""
    return uuid5(CASEBOOK_NAMESPACE, f"{kind}:{key}")


class UniqueKey(Aggregate):
    """Saved in the same transaction as the case event that uses the key: either both
    are stored or neither, and a second claim on the key fails as a version conflict."""

    class Claimed(Aggregate.Created):
        key: str
        case_id: str

        def apply(self, claim: UniqueKey) -> None:
            claim.key = self.key
            claim.case_id = self.case_id

    key: str
    case_id: str

    def __init__(self) -> None:
        pass  # state comes from Claimed.apply

    @classmethod
    def claim(cls, key: str, case_id: str, now: object) -> UniqueKey:
        return cls._create(
            cls.Claimed, id=derived_id("unique-key", key), key=key, case_id=case_id, timestamp=now
        )
