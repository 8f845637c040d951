"""Who may call what on the notify service: the one authorization table (deny by default;
an RPC without a row is refused to everyone, and a test checks every RPC has one).

Alerts and reminders are read by whoever works or watches cases (agents, supervisors,
auditors, and bank systems such as a case-management front end or a reporting feed);
acknowledging an alert is a collector's act, recorded under the caller's token subject.
The notify role itself is the service's identity towards the case service: it needs
nothing here.
"""

from __future__ import annotations

from casebook.v1 import notify_service_pb2
from casebook_common.security import AGENT, AUDITOR, SUPERVISOR, SYSTEM, AuthorizationTable, allow

SERVICE = notify_service_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name

READERS = (AGENT, SUPERVISOR, AUDITOR, SYSTEM)

# fmt: off
NOTIFY_SERVICE = AuthorizationTable(SERVICE, {
    "ListAlerts":       allow(*READERS),
    "WatchAlerts":      allow(*READERS),
    "ListReminders":    allow(*READERS),
    "AcknowledgeAlert": allow(AGENT, SUPERVISOR),
})
# fmt: on
