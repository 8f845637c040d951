"""Compliance engine: conduct rules of debt collection as pure functions of
(case facts, request, jurisdiction profile). No I/O beyond reading the bundled profile data.
"""

from casebook_case.compliance.engine import (
    Decision,
    Refusal,
    check_contact,
    check_escalation,
    next_permitted_time,
)
from casebook_case.compliance.facts import (
    CaseFacts,
    ContactIntent,
    Hold,
    IssuedLetter,
    PastContact,
)
from casebook_case.compliance.profiles import (
    DEFAULT_PROFILE_ID,
    Profile,
    ProfileError,
    UnknownProfile,
    get_profile,
    profile_ids,
    profile_versions,
)

__all__ = [
    "DEFAULT_PROFILE_ID",
    "CaseFacts",
    "ContactIntent",
    "Decision",
    "Hold",
    "IssuedLetter",
    "PastContact",
    "Profile",
    "ProfileError",
    "Refusal",
    "UnknownProfile",
    "check_contact",
    "check_escalation",
    "get_profile",
    "next_permitted_time",
    "profile_ids",
    "profile_versions",
]
