"""What can go wrong with a command, in the domain's words; the API layer maps these to codes."""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    """Base of every refusal the domain makes on purpose."""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(DomainError):
    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def single(cls, field_name: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field_name, description)])


class NotFound(DomainError):
    def __init__(self, what: str, identifier: str) -> None:
        self.what = what
        self.identifier = identifier
        super().__init__(f"{what} {identifier!r} not found")


class AlreadyExists(DomainError):
    """A unique key (request_id, payment_reference) is already taken by something else."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class VersionConflict(DomainError):
    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"case is at version {actual}, not the expected {expected}")


class Contention(DomainError):
    """Too many concurrent writers on one case; the caller may retry."""


@dataclass
class Refused(DomainError):
    """The case refuses the command in its current state (FAILED_PRECONDITION)."""

    reason: str
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    # Every rule that refused, as (reason, message), when more than one may apply.
    violations: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


def case_closed() -> Refused:
    return Refused("CASE_CLOSED", "the case is closed")
