"""Versioned letter templates. A letter is rendered from (template, version, case) and only
its SHA-256 is recorded: the same inputs always render the same text, so an auditor can
re-render and compare."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from string import Template
from typing import Any

from casebook_case.domain.errors import InvalidArgument


@dataclass(frozen=True)
class LetterTemplate:
    template_id: str
    version: int
    letter_type: str
    body: str

    def render(self, fields: dict[str, Any]) -> str:
        return Template(self.body).substitute(fields)


# The demand letter states what CN credit-card rules art. 69 requires: name, amount owed,
# reason and legal basis, the debtor's rights, how to check the account and object, and
# the issuer's contact.
_TEMPLATES = [
    LetterTemplate(
        "reminder-cn",
        1,
        "REMINDER",
        "Dear $name,\nYour card account $account_id is $days_past_due days past due; "
        "$balance $currency is outstanding. Please pay at your earliest convenience.\n"
        "Questions: call the card centre at $issuer_phone.\n",
    ),
    LetterTemplate(
        "demand-cn",
        1,
        "DEMAND",
        "Dear $name,\nDemand for payment, account $account_id.\n"
        "Amount owed: $balance $currency ($days_past_due days past due).\n"
        "Reason and legal basis: overdue repayment under your card agreement and the "
        "Measures for the Supervision and Administration of Credit Card Business.\n"
        "Your rights: you may request the contract and transaction records to check the "
        "amount, and object in writing within 30 days.\n"
        "How to check or object: call $issuer_phone or write to the card centre.\n",
    ),
    LetterTemplate(
        "final-notice-cn",
        1,
        "FINAL_NOTICE",
        "Dear $name,\nFINAL NOTICE for account $account_id: $balance $currency is owed "
        "($days_past_due days past due). Without payment or an agreed arrangement the bank "
        "may take legal action. To check the amount or object: $issuer_phone.\n",
    ),
    LetterTemplate(
        "lawyer-cn",
        1,
        "LAWYER",
        "Dear $name,\nOn behalf of the bank we demand payment of $balance $currency owed on "
        "account $account_id. Contact $issuer_phone to check the amount or object.\n",
    ),
]

TEMPLATES: dict[str, LetterTemplate] = {t.template_id: t for t in _TEMPLATES}
DEFAULT_TEMPLATE_FOR_TYPE: dict[str, str] = {t.letter_type: t.template_id for t in _TEMPLATES}
ISSUER_PHONE = "95588"


def choose_template(letter_type: str, template_id: str = "") -> LetterTemplate:
    chosen = template_id or DEFAULT_TEMPLATE_FOR_TYPE.get(letter_type, "")
    template = TEMPLATES.get(chosen)
    if template is None:
        raise InvalidArgument.single("template_id", f"unknown letter template {chosen!r}")
    if template.letter_type != letter_type:
        raise InvalidArgument.single(
            "template_id", f"template {chosen!r} is for {template.letter_type} letters"
        )
    return template


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
