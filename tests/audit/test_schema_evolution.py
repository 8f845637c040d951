"""An event class changes after events were written with it: the old events load through
the library's upcasting, and the hash chain, computed over events as written, still
verifies, before and after new events of the changed class are appended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import UUID

from eventsourcing.utils import _topic_cache, get_topic

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.domain.case import Case, CommandMeta
from tests.audit.tamper import Tamperer
from tests.support import open_case


class ContactLoggedV2(Case.ContactLogged):
    """ContactLogged as a later release might define it: calls now have a duration."""

    class_version = 2
    duration_seconds: int

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["duration_seconds"] = 0  # not measured before version 2


@contextmanager
def class_changed(old: type, new: type) -> Iterator[None]:
    """Deploy the new class under the old class's stored topic, as a new release would by
    editing the class in place (the library resolves each stored topic through this
    cache); put the old one back afterwards."""
    topic = get_topic(old)
    _topic_cache[topic] = new
    try:
        yield
    finally:
        _topic_cache[topic] = old


def _contact(stub, case_id: str) -> None:
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id, channel=pb.SMS, direction=pb.OUTBOUND, outcome=pb.DELIVERED
        )
    )


def _verified(stub, case_id: str) -> svc.VerifyCaseHistoryResponse:
    return stub.VerifyCaseHistory(svc.VerifyCaseHistoryRequest(case_id=case_id))


def test_events_written_by_the_older_class_load_upcast_and_still_verify(server, db_url, clock):
    stub = server.stub
    case = open_case(stub)
    _contact(stub, case.case_id)
    clock.advance(timedelta(minutes=5))
    _contact(stub, case.case_id)
    before = _verified(stub, case.case_id)
    assert before.ok
    stored = Tamperer(db_url).state(case.case_id, 2)
    assert "duration_seconds" not in stored and "class_version" not in stored

    server.app._evict(UUID(case.case_id))  # the new release starts with an empty cache
    with class_changed(Case.ContactLogged, ContactLoggedV2):
        events = list(stub.GetCaseHistory(svc.GetCaseHistoryRequest(case_id=case.case_id)))
        contacts = [e for e in events if e.type == "ContactLoggedV2"]
        assert len(contacts) == 2
        assert all(json.loads(e.payload_json)["duration_seconds"] == 0 for e in contacts)
        loaded = server.app.events.get(UUID(case.case_id), gt=1, lte=2)
        assert [type(e) for e in loaded] == [ContactLoggedV2]
        assert stub.GetCase(svc.GetCaseRequest(case_id=case.case_id)).contact_attempts == 2

        after = _verified(stub, case.case_id)
        assert (after.ok, after.event_count, after.head_hash) == (True, 3, before.head_hash)

        # The new release writes version-2 events; the chain runs on through them.
        case_object = server.app.repository.get(UUID(case.case_id))
        case_object._record(
            ContactLoggedV2,
            CommandMeta("agent:7", clock.now()),
            channel="PHONE",
            direction="OUTBOUND",
            outcome="RIGHT_PARTY_CONTACT",
            target="DEBTOR",
            party_reached="DEBTOR",
            right_party_verified=True,
            debt_disclosed=True,
            agent_id="agent:7",
            note="",
            profile="CN",
            profile_version=1,
            duration_seconds=95,
        )
        server.app.save(case_object)
        written = Tamperer(db_url).state(case.case_id, 4)
        assert (written["class_version"], written["duration_seconds"]) == (2, 95)
        final = _verified(stub, case.case_id)
        assert (final.ok, final.event_count) == (True, 4)
        _contact(stub, case.case_id)  # and an event of an unchanged class after it
        assert _verified(stub, case.case_id).ok

    # A stored class_version lowered by hand would make the upcaster run again over data
    # that already has the field: the chain covers class_version, so it is caught.
    tamper = Tamperer(db_url)
    written["class_version"] = 1
    tamper.write_state(case.case_id, 4, written)
    broken = _verified(stub, case.case_id)
    assert (broken.ok, broken.first_bad_version) == (False, 4)
