from __future__ import annotations

from datetime import timedelta

import pytest
from builders import CN, US, ny, sh

from casebook_case.compliance import CaseFacts, Hold, IssuedLetter, check_escalation

AT = sh(2026, 6, 30, 10)


def case(**facts):
    return CaseFacts(time_zone="Asia/Shanghai", **facts)


def final_notice(days_before, letter_type="FINAL_NOTICE"):
    return (IssuedLetter(letter_type, AT - days_before),)


def reasons(refusals):
    return [r.reason for r in refusals]


@pytest.mark.parametrize(
    ("letters", "permitted"),
    [
        ((), False),
        (final_notice(timedelta(days=14, hours=23)), False),
        (final_notice(timedelta(days=15)), True),
        (final_notice(timedelta(days=40)), True),
        (final_notice(timedelta(days=40), "DEMAND"), False),
        (final_notice(timedelta(days=-1)), False),  # dated after the escalation
    ],
    ids=[
        "no_letter",
        "14d23h_before",
        "15d_before",
        "40d_before",
        "demand_is_not_final",
        "future_letter",
    ],
)
def test_cn_escalation_to_legal_needs_a_final_notice_15_days_old(letters, permitted):
    refusals = check_escalation(case(letters=letters), "LEGAL", AT, CN)
    assert reasons(refusals) == ([] if permitted else ["FINAL_NOTICE_REQUIRED"])


def test_too_recent_final_notice_says_when_legal_becomes_possible():
    (refusal,) = check_escalation(case(letters=final_notice(timedelta(days=3))), "LEGAL", AT, CN)
    assert refusal.next_permitted_time == AT + timedelta(days=12)


def test_us_escalation_to_legal_needs_a_final_notice_30_days_old():
    at = ny(2026, 6, 30, 10)
    facts = case(letters=(IssuedLetter("FINAL_NOTICE", at - timedelta(days=29)),))
    assert reasons(check_escalation(facts, "LEGAL", at, US)) == ["FINAL_NOTICE_REQUIRED"]
    facts = case(letters=(IssuedLetter("FINAL_NOTICE", at - timedelta(days=30)),))
    assert check_escalation(facts, "LEGAL", at, US) == ()


@pytest.mark.parametrize("stage", ["AGENCY", "LEGAL"])
def test_escalation_during_an_open_dispute_is_refused(stage):
    facts = case(dispute_open=True, letters=final_notice(timedelta(days=30)))
    assert reasons(check_escalation(facts, stage, AT, CN)) == ["DISPUTE_OPEN"]


def test_escalation_to_agency_needs_no_final_notice():
    assert check_escalation(case(), "AGENCY", AT, CN) == ()


def test_moving_to_an_early_stage_is_not_gated_by_a_dispute():
    assert check_escalation(case(dispute_open=True), "MID", AT, CN) == ()


def test_escalating_a_closed_case_is_refused():
    assert reasons(check_escalation(case(closed=True), "MID", AT, CN)) == ["CASE_CLOSED"]


def test_escalation_while_a_hold_is_active_is_refused_until_it_ends():
    until = AT + timedelta(days=2)
    facts = case(
        holds=(Hold("HARDSHIP", since=AT - timedelta(days=1), until=until),),
        letters=final_notice(timedelta(days=30)),
    )
    (refusal,) = check_escalation(facts, "AGENCY", AT, CN)
    assert (refusal.reason, refusal.next_permitted_time) == ("HOLD_ACTIVE", until)
    assert check_escalation(facts, "AGENCY", until, CN) == ()


def test_all_escalation_refusals_are_reported():
    facts = case(closed=True, dispute_open=True, holds=(Hold("FRAUD", since=AT),))
    assert reasons(check_escalation(facts, "LEGAL", AT, CN)) == [
        "CASE_CLOSED",
        "DISPUTE_OPEN",
        "HOLD_ACTIVE",
        "FINAL_NOTICE_REQUIRED",
    ]
