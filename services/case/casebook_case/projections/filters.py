"""The ListCases filter: a small AIP-160 expression language, parsed into a tree and
turned into SQL on the projection tables.

    filter     := [expression]
    expression := sequence { "AND" sequence }
    sequence   := factor { "OR" factor }           (OR binds tighter than AND, as in AIP-160)
    factor     := ["NOT" | "-"] ( "(" expression ")" | comparison )
    comparison := FIELD OPERATOR VALUE
    OPERATOR   := "=" | "!=" | "<" | "<=" | ">" | ">="
    VALUE      := a bare word (LATE, 30, true, 2026-11-30T00:00:00Z) | a "double-quoted string"

Keywords are upper case. Every mistake is reported with the character it was found at.
`contactable_now` needs the conduct rules, which run in the case application, not in SQL: it
may appear once, joined to the rest by AND only (never under OR or NOT).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from casebook_case.compliance.profiles import profile_ids
from casebook_case.domain.errors import FieldViolation, InvalidArgument
from casebook_case.domain.values import Channel, PromiseStatus
from casebook_case.iso4217 import CURRENCIES
from casebook_case.projections.tables import STAGE_RANK

MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 20  # nested parentheses and NOTs
OPERATORS = ("<=", ">=", "!=", "=", "<", ">")
EQUALITY = ("=", "!=")
ORDERING = OPERATORS
MAX_INTEGER = 10**15


class FilterError(InvalidArgument):
    """A filter that cannot be understood: INVALID_ARGUMENT naming the field `filter`."""

    def __init__(self, message: str, at: int | None = None) -> None:
        where = f"at character {at + 1}: " if at is not None else ""
        super().__init__([FieldViolation("filter", where + message)])


# ----------------------------------------------------------------------- tree
@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any  # already checked and converted for the field
    at: int

    def canonical(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return f"{self.field} {self.op} {value!r}"


@dataclass(frozen=True)
class Not:
    item: Node

    def canonical(self) -> str:
        return f"NOT ({self.item.canonical()})"


@dataclass(frozen=True)
class Junction:
    op: str  # AND | OR
    items: tuple[Node, ...]

    def canonical(self) -> str:
        return "(" + f" {self.op} ".join(i.canonical() for i in self.items) + ")"


Node = Comparison | Not | Junction


@dataclass(frozen=True)
class ContactableNow:
    """`contactable_now = ...`: an outbound contact on `channel` is (or is not) permitted."""

    channel: str
    permitted: bool


@dataclass(frozen=True)
class Filter:
    sql: Node | None  # what SQL decides; None: every case
    contactable: ContactableNow | None  # what the conduct rules decide afterwards

    def canonical(self) -> str:
        sql = self.sql.canonical() if self.sql is not None else ""
        if self.contactable is None:
            return sql
        c = self.contactable
        return f"{sql} & contactable_now({c.channel}, {c.permitted})"


# --------------------------------------------------------------------- fields
def _word(value: str, at: int, allowed: Any, what: str) -> str:
    if value not in allowed:
        raise FilterError(f"{what} must be one of {', '.join(allowed)}, not {value!r}", at)
    return value


def _integer(value: str, at: int) -> int:
    if not re.fullmatch(r"-?[0-9]{1,16}", value) or abs(int(value)) > MAX_INTEGER:
        raise FilterError(f"expected a whole number, not {value!r}", at)
    return int(value)


def _timestamp(value: str, at: int) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
        raise FilterError(
            f'expected an RFC 3339 time with its offset such as "2026-11-30T00:00:00Z", '
            f"not {value!r}",
            at,
        )
    return parsed


def _text(value: str, at: int) -> str:
    if len(value) > 128:
        raise FilterError("a value is at most 128 characters", at)
    return value


@dataclass(frozen=True)
class FieldSpec:
    operators: tuple[str, ...]
    convert: Callable[[str, int], Any]
    help: str


FIELDS: dict[str, FieldSpec] = {
    "stage": FieldSpec(
        EQUALITY, lambda v, at: _word(v, at, tuple(STAGE_RANK), "stage"), "EARLY .. CLOSED"
    ),
    "dpd": FieldSpec(ORDERING, _integer, "days past due now"),
    "balance": FieldSpec(ORDERING, _integer, "balance in minor units"),
    "currency": FieldSpec(
        EQUALITY, lambda v, at: _word(v, at, sorted(CURRENCIES), "currency"), "ISO 4217"
    ),
    "assignee": FieldSpec(EQUALITY, _text, '"" for unassigned'),
    "profile": FieldSpec(
        EQUALITY, lambda v, at: _word(v, at, sorted(profile_ids()), "profile"), "CN, US_REG_F"
    ),
    "promise_status": FieldSpec(
        EQUALITY,
        lambda v, at: _word(v, at, ("NONE", *(s.value for s in PromiseStatus)), "promise_status"),
        "of the latest promise",
    ),
    "open_promise_due_before": FieldSpec(("=",), _timestamp, "a time"),
    "contactable_now": FieldSpec(("=",), lambda v, at: v, "true, false or a channel"),
}
ALIASES = {"days_past_due": "dpd", "balance_minor": "balance"}


def _contactable(value: str, at: int) -> ContactableNow:
    if value == "true":
        return ContactableNow("PHONE", True)
    if value == "false":
        return ContactableNow("PHONE", False)
    if value in {c.value for c in Channel}:
        return ContactableNow(value, True)
    channels = ", ".join(c.value for c in Channel)
    raise FilterError(
        f"contactable_now must be true, false or a channel ({channels}), not {value!r}", at
    )


# --------------------------------------------------------------------- tokens
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|!=|=|<|>)
      | (?P<paren>[()])
      | "(?P<string>(?:[^"\\]|\\.)*)"
      | (?P<word>[^\s()"=<>!]+)
      | (?P<bad>.)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # op, paren, string, word, end
    text: str
    at: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        match = _TOKEN.match(source, index)
        assert match is not None
        if match.end() == index or not source[index:].strip():
            break
        kind = match.lastgroup or "bad"
        at = match.start(kind)
        if kind == "bad":
            if source[at] == '"':
                raise FilterError("a quoted value is not closed", at)
            raise FilterError(f"unexpected character {source[at]!r}", at)
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        tokens.append(Token(kind, value, at))
        index = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# --------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.token.kind == "word" and self.token.text == word:
            self.index += 1
            return True
        return False

    def expression(self) -> Node:
        items = [self.sequence()]
        while self.keyword("AND"):
            items.append(self.sequence())
        return items[0] if len(items) == 1 else Junction("AND", tuple(items))

    def sequence(self) -> Node:
        items = [self.factor()]
        while self.keyword("OR"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else Junction("OR", tuple(items))

    def factor(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"nested more than {MAX_DEPTH} deep", self.token.at)
        try:
            token = self.token
            if self.keyword("NOT"):
                return Not(self.factor())
            if token.kind == "word" and token.text.startswith("-"):
                # AIP-160's "-" negation, written apart ("- dpd > 3") or joined ("-dpd > 3").
                rest = token.text[1:]
                if rest:
                    self.tokens[self.index] = Token("word", rest, token.at + 1)
                else:
                    self.index += 1
                return Not(self.factor())
            if token.kind == "paren" and token.text == "(":
                self.index += 1
                inner = self.expression()
                closing = self.take()
                if closing.kind != "paren" or closing.text != ")":
                    raise FilterError(f"expected ')' {_found(closing)}", closing.at)
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Comparison:
        name = self.take()
        if name.kind != "word" or name.text in ("AND", "OR", "NOT"):
            raise FilterError(f"expected a field name {_found(name)}", name.at)
        field = ALIASES.get(name.text, name.text)
        spec = FIELDS.get(field)
        if spec is None:
            known = ", ".join(FIELDS)
            raise FilterError(f"unknown field {name.text!r}; fields are: {known}", name.at)
        op = self.take()
        if op.kind != "op":
            raise FilterError(f"expected an operator after {name.text} {_found(op)}", op.at)
        if op.text not in spec.operators:
            allowed = " ".join(spec.operators)
            raise FilterError(f"{field} takes {allowed}, not {op.text}", op.at)
        value = self.take()
        if value.kind not in ("word", "string"):
            raise FilterError(f"expected a value for {field} {_found(value)}", value.at)
        if field == "contactable_now":
            return Comparison(field, op.text, _contactable(value.text, value.at), name.at)
        return Comparison(field, op.text, spec.convert(value.text, value.at), name.at)


def _found(token: Token) -> str:
    if token.kind == "end":
        return "at the end"
    if token.kind == "word" and token.text.upper() in ("AND", "OR", "NOT"):
        return f"but found {token.text!r} (AND, OR and NOT are written in capitals)"
    return f"but found {token.text!r}"


def parse_filter(source: str) -> Filter:
    if len(source) > MAX_FILTER_LENGTH:
        raise FilterError(f"is longer than {MAX_FILTER_LENGTH} characters")
    if not source.strip():
        return Filter(None, None)
    parser = _Parser(source)
    tree = parser.expression()
    if parser.token.kind != "end":
        token = parser.token
        raise FilterError(f"expected AND, OR or the end {_found(token)}", token.at)
    return _split_contactable(tree)


def _split_contactable(tree: Node) -> Filter:
    """Take contactable_now out of the top-level conjunction; refuse it anywhere else."""
    top = list(tree.items) if isinstance(tree, Junction) and tree.op == "AND" else [tree]
    contactable: list[Comparison] = []
    rest: list[Node] = []
    for item in top:
        if isinstance(item, Comparison) and item.field == "contactable_now":
            contactable.append(item)
        else:
            _refuse_nested_contactable(item)
            rest.append(item)
    if len(contactable) > 1:
        raise FilterError("contactable_now may appear only once", contactable[1].at)
    sql: Node | None
    sql = None if not rest else rest[0] if len(rest) == 1 else Junction("AND", tuple(rest))
    return Filter(sql, contactable[0].value if contactable else None)


def _refuse_nested_contactable(node: Node) -> None:
    if isinstance(node, Comparison):
        if node.field == "contactable_now":
            raise FilterError(
                "contactable_now can only be joined to the rest of the filter with AND "
                "(not under OR or NOT)",
                node.at,
            )
    elif isinstance(node, Not):
        _refuse_nested_contactable(node.item)
    else:
        for item in node.items:
            _refuse_nested_contactable(item)
