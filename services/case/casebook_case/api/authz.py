"""Who may call what on the case service: the one authorization table (deny by default).

An RPC without a row is refused to every role (PERMISSION_DENIED, NO_AUTHORIZATION_RULE); a
test checks that every RPC of CaseService has a row. Roles come from the caller's token:

- agent       a collector working cases: contacts, promises, payments taken on the phone,
              letters, disputes, cease requests, holds, arrangement proposals, escalations,
              and the reads that work needs. Never approves, never writes off.
- supervisor  everything an agent does, plus opening cases by hand, approving arrangements
              above the limit, writing off, bulk figures and audit reads.
- auditor     reads, and only reads: no command, no bulk event feed (SubscribeEvents skips
              the access log that every auditor read must leave; GetCaseHistory does not).
- system      other bank systems: core banking opens cases and writes them off, payment
              files and gateways post payments, the dialer/IVR logs contacts, the letter batch
              issues letters, the dispute and complaints systems raise disputes, cease
              requests and holds (bankruptcy, deceased), feeds read SubscribeEvents.
- notify      the notify service: follows events, reads a case and its contact rules before a
              reminder, logs the reminder as a contact, marks unpaid promises broken.
"""

from __future__ import annotations

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2
from casebook_common.security import (
    AGENT,
    AUDITOR,
    NOTIFY,
    SUPERVISOR,
    SYSTEM,
    AuthorizationTable,
    allow,
    only,
)

SERVICE = case_service_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name

# Writing a debt off forgives it: a decision for a supervisor or core banking, not an agent.
WRITTEN_OFF_NEEDS_SUPERVISOR = only(
    (SUPERVISOR, SYSTEM), "reason WRITTEN_OFF", lambda r: r.reason == pb.WRITTEN_OFF
)

EVERYONE_WHO_READS = (AGENT, SUPERVISOR, AUDITOR, SYSTEM)

# fmt: off
CASE_SERVICE = AuthorizationTable(SERVICE, {
    # ------------------------------------------------------------------ reads
    "GetCase":               allow(*EVERYONE_WHO_READS, NOTIFY),  # notify: a reminder's text
    "ListCases":             allow(*EVERYONE_WHO_READS),           # worklists
    "GetCaseHistory":        allow(*EVERYONE_WHO_READS),
    "CheckContactPermitted": allow(*EVERYONE_WHO_READS, NOTIFY),  # notify: before each reminder
    "VerifyCaseHistory":     allow(*EVERYONE_WHO_READS),
    # Portfolio-wide: management and audit figures, not a collector's tool.
    "GetLedgerDigest":       allow(SUPERVISOR, AUDITOR, SYSTEM),
    "GetPortfolioStats":     allow(SUPERVISOR, AUDITOR, SYSTEM),
    # Every event of every case, without access-log entries: machines that follow the log.
    "SubscribeEvents":       allow(SYSTEM, NOTIFY),
    # --------------------------------------------------------------- commands
    "OpenCase":              allow(SUPERVISOR, SYSTEM),            # core banking; by hand
    "LogContact":            allow(AGENT, SUPERVISOR, SYSTEM, NOTIFY),  # dialer; reminders
    "RecordPromise":         allow(AGENT, SUPERVISOR),
    "RecordPayment":         allow(AGENT, SUPERVISOR, SYSTEM),     # on the phone; gateways
    "ImportPayments":        allow(SYSTEM),                        # the nightly payment file
    "MarkPromiseBroken":     allow(NOTIFY, SYSTEM),                # deadlines, not people
    "IssueLetter":           allow(AGENT, SUPERVISOR, SYSTEM),     # letter batch
    "Escalate":              allow(AGENT, SUPERVISOR),
    "RaiseDispute":          allow(AGENT, SUPERVISOR, SYSTEM),     # dispute system
    "ResolveDispute":        allow(AGENT, SUPERVISOR),
    "RecordCeaseRequest":    allow(AGENT, SUPERVISOR, SYSTEM),     # online banking opt-out
    "PlaceHold":             allow(AGENT, SUPERVISOR, SYSTEM),     # bankruptcy/deceased feeds
    "ReleaseHold":           allow(AGENT, SUPERVISOR),
    "ProposeArrangement":    allow(AGENT, SUPERVISOR),
    # Only called for concessions above the approval limit (smaller ones approve at once).
    "ApproveArrangement":    allow(SUPERVISOR),
    "CloseCase":             allow(AGENT, SUPERVISOR, SYSTEM,
                                   narrowed=[WRITTEN_OFF_NEEDS_SUPERVISOR]),
    # Sharing out the work: team leads and the allocation engine, not collectors themselves.
    "AssignCase":            allow(SUPERVISOR, SYSTEM),
})
# fmt: on
