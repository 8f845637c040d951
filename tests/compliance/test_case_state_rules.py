from __future__ import annotations

from datetime import timedelta

import pytest
from builders import (
    CN,
    US,
    call,
    cn_case,
    cn_reasons,
    logged_call,
    ny,
    outbound,
    reasons,
    sh,
    us_case,
    us_reasons,
)

from casebook_case.compliance import ContactIntent, Hold, check_contact

NOON = sh(2026, 5, 13, 12)  # a Wednesday in Shanghai


def test_a_permitted_decision_names_its_profile_version():
    decision = check_contact(cn_case(), call(NOON), CN)
    assert (decision.permitted, decision.refusals, decision.next_permitted_time) == (True, (), None)
    assert (decision.profile_id, decision.profile_version) == ("CN", 1)


# --- cease, dispute, closed ---------------------------------------------------------------


def test_call_on_a_ceased_channel_is_refused():
    facts = cn_case(ceased_channels=frozenset({"PHONE"}))
    decision = check_contact(facts, call(NOON), CN)
    assert reasons(decision) == ["CEASE_REQUESTED"]
    assert decision.next_permitted_time is None


def test_cease_on_one_channel_leaves_the_others_open():
    facts = cn_case(ceased_channels=frozenset({"PHONE"}))
    assert cn_reasons(facts, outbound("SMS", NOON)) == []


def test_contact_during_an_open_dispute_is_refused():
    assert cn_reasons(cn_case(dispute_open=True), outbound("LETTER", NOON)) == ["DISPUTE_OPEN"]


def test_contact_on_a_closed_case_is_refused():
    assert us_reasons(us_case(closed=True), outbound("EMAIL", ny(2026, 6, 1))) == ["CASE_CLOSED"]


# --- holds --------------------------------------------------------------------------------

HOLD_START = sh(2026, 5, 10, 9)
HOLD_END = sh(2026, 5, 13, 12)


@pytest.mark.parametrize(
    ("at", "refused"),
    [
        (HOLD_START - timedelta(seconds=1), False),
        (HOLD_START + timedelta(days=1), True),
        (HOLD_END - timedelta(seconds=1), True),
        (HOLD_END, False),  # the hold has ended at its until
    ],
    ids=["before_hold", "hold_active", "last_second_of_hold", "hold_expired_at_until"],
)
def test_hold_with_an_end(at, refused):
    facts = cn_case(holds=(Hold("HARDSHIP", since=HOLD_START, until=HOLD_END),))
    decision = check_contact(facts, outbound("EMAIL", at), CN)
    assert reasons(decision) == (["HOLD_ACTIVE"] if refused else [])


def test_hold_with_an_end_says_when_contact_resumes():
    facts = cn_case(holds=(Hold("HARDSHIP", since=HOLD_START, until=HOLD_END),))
    decision = check_contact(facts, outbound("EMAIL", sh(2026, 5, 12)), CN)
    assert decision.refusals[0].next_permitted_time == HOLD_END
    assert decision.next_permitted_time == HOLD_END


def test_hold_until_released_blocks_with_no_next_time():
    facts = cn_case(holds=(Hold("BANKRUPTCY", since=HOLD_START),))
    decision = check_contact(facts, call(NOON), CN)
    assert reasons(decision) == ["HOLD_ACTIVE"]
    assert decision.refusals[0].next_permitted_time is None
    assert decision.next_permitted_time is None


def test_an_ended_hold_does_not_block():
    facts = cn_case(holds=(Hold("COMPLAINT", since=sh(2026, 1, 1), until=sh(2026, 2, 1)),))
    assert cn_reasons(facts, call(NOON)) == []


# --- inbound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        cn_case(closed=True),
        cn_case(dispute_open=True),
        cn_case(ceased_channels=frozenset({"PHONE"})),
        cn_case(holds=(Hold("FRAUD", since=sh(2026, 1, 1)),)),
        cn_case(contacts=tuple(logged_call(sh(2026, 10, 1, 1, i)) for i in range(10))),
    ],
    ids=["closed", "dispute", "ceased", "hold", "frequency"],
)
def test_inbound_call_at_night_on_a_holiday_is_always_permitted(facts):
    intent = ContactIntent(
        "PHONE", "INBOUND", sh(2026, 10, 1, 23, 30), outcome="THIRD_PARTY", debt_disclosed=True
    )
    decision = check_contact(facts, intent, CN)
    assert decision.permitted and decision.next_permitted_time is None


# --- third parties -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "outcome", "refused"),
    [
        ("DEBTOR", "RIGHT_PARTY_VERIFIED", False),
        ("DEBTOR", "RIGHT_PARTY_UNVERIFIED", True),
        ("DEBTOR", "WRONG_NUMBER", True),
        ("DEBTOR", "THIRD_PARTY", True),
        ("THIRD_PARTY", "RIGHT_PARTY_VERIFIED", True),
    ],
)
def test_debt_disclosed_on_a_call_that_reached(target, outcome, refused):
    facts = us_case()
    intent = call(ny(2026, 6, 1, 12), target=target, outcome=outcome, debt_disclosed=True)
    assert us_reasons(facts, intent) == (["THIRD_PARTY_DISCLOSURE"] if refused else [])


def test_third_party_call_without_disclosure_is_permitted_in_the_us():
    intent = call(ny(2026, 6, 1, 12), target="THIRD_PARTY", outcome="THIRD_PARTY")
    assert us_reasons(us_case(), intent) == []


def unreachable(n):
    outcomes = ["NO_ANSWER", "BUSY", "UNDELIVERED"]
    return tuple(
        logged_call(
            sh(2026, 5, 12, 9 + i),
            outcomes[i % 3],
            channel="SMS" if outcomes[i % 3] == "UNDELIVERED" else "PHONE",
        )
        for i in range(n)
    )


@pytest.mark.parametrize(("failed_attempts", "permitted"), [(0, False), (2, False), (3, True)])
def test_cn_third_party_call_after_failed_attempts_to_reach_the_debtor(failed_attempts, permitted):
    facts = cn_case(contacts=unreachable(failed_attempts))
    decision = check_contact(facts, call(NOON, target="THIRD_PARTY"), CN)
    assert reasons(decision) == ([] if permitted else ["THIRD_PARTY_DISCLOSURE"])
    assert decision.next_permitted_time is None  # more attempts lift it, not the clock


def test_cn_answered_calls_do_not_prove_the_debtor_unreachable():
    contacts = (*unreachable(2), logged_call(sh(2026, 5, 12, 15), "RIGHT_PARTY_VERIFIED"))
    assert cn_reasons(cn_case(contacts=contacts), call(NOON, target="THIRD_PARTY")) == [
        "THIRD_PARTY_DISCLOSURE"
    ]


def test_cn_calls_to_third_parties_do_not_prove_the_debtor_unreachable():
    contacts = tuple(logged_call(sh(2026, 5, 12, 9 + i), target="THIRD_PARTY") for i in range(3))
    assert cn_reasons(cn_case(contacts=contacts), call(NOON, target="THIRD_PARTY")) == [
        "THIRD_PARTY_DISCLOSURE"
    ]


# --- several refusals at once ---------------------------------------------------------------


def test_every_failing_rule_is_reported_in_a_stable_order():
    facts = cn_case(
        closed=True,
        ceased_channels=frozenset({"PHONE"}),
        dispute_open=True,
        holds=(Hold("COMPLAINT", since=sh(2026, 1, 1)),),
        contacts=tuple(logged_call(sh(2026, 10, 1, 8 + i)) for i in range(6)),
    )
    intent = call(
        sh(2026, 10, 1, 23), target="THIRD_PARTY", outcome="THIRD_PARTY", debt_disclosed=True
    )
    decision = check_contact(facts, intent, CN)
    assert reasons(decision) == [
        "CASE_CLOSED",
        "CEASE_REQUESTED",
        "DISPUTE_OPEN",
        "HOLD_ACTIVE",
        "THIRD_PARTY_DISCLOSURE",
        "OUTSIDE_CONTACT_HOURS",
        "REST_DAY",
        "FREQUENCY_LIMIT",
    ]
    assert decision.next_permitted_time is None


def test_only_time_refusals_give_the_decision_a_next_time():
    facts = cn_case(contacts=tuple(logged_call(sh(2026, 9, 30, 8 + i)) for i in range(6)))
    decision = check_contact(facts, call(sh(2026, 9, 30, 22, 30)), CN)
    assert reasons(decision) == ["OUTSIDE_CONTACT_HOURS", "FREQUENCY_LIMIT"]
    assert [r.next_permitted_time for r in decision.refusals] == [
        sh(2026, 10, 1, 8),
        sh(2026, 10, 1, 0),
    ]
    assert decision.next_permitted_time == sh(2026, 10, 8, 8)


def test_refusal_messages_carry_no_personal_data():
    facts = cn_case(holds=(Hold("HARDSHIP", since=sh(2026, 1, 1)),))
    for refusal in check_contact(facts, call(sh(2026, 10, 1, 23)), CN).refusals:
        assert "Asia/Shanghai" not in refusal.message
        assert refusal.message


def test_naive_times_are_rejected():
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        check_contact(cn_case(), call(datetime(2026, 5, 13, 12)), CN)


def test_us_profile_is_independent_of_cn_rules():
    assert check_contact(us_case(), call(ny(2026, 7, 4, 12)), US).permitted  # a Saturday
