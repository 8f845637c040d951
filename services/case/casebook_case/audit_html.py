"""The auditor's case export as one self-contained HTML page: no scripts, fonts or network."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from casebook_case.audit_export import CaseExport, ExportedEvent, PromiseOutcome
from casebook_case.domain.canonical import canonical, canonical_json
from casebook_case.domain.chain import ChainReport

SHORT_HASH = 12  # hex digits of a hash shown in the timeline; the full hash is in its title
EMPTY = '<span class="empty" title="empty">—</span>'
# Defence in depth: even a value that slipped past escaping could load or run nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


def render_html(export: CaseExport) -> str:
    """The whole page for one case export."""
    title = f"Case {export.case_id}: audit export"
    body = "\n".join(
        (
            _personal_data_notice(),
            _header(export),
            _verification(export.verification),
            _nav(),
            _promises(export.promises, export.currency),
            _refused_contacts(export.events),
            _timeline(export.events, export.currency, export.verification),
            _footer(),
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------ sections
def _personal_data_notice() -> str:
    return (
        '<aside class="notice" id="personal-data-notice"><strong>Personal data.</strong> '
        "This file contains the debtor's personal data (name, phone, e-mail, address, ID "
        "number). Store, share and delete it only under the bank's data protection rules.</aside>"
    )


def _header(export: CaseExport) -> str:
    facts = (
        ("Account", _e(export.account_id)),
        ("Currency", _e(export.currency)),
        ("Stage", _e(export.stage)),
        ("Balance", _e(money(export.balance_minor, export.currency))),
        ("Status", "Closed" if export.closed else "Open"),
        ("Exported at (UTC)", _e(_time(export.exported_at)) or EMPTY),
        ("Exported by", _e(export.exported_by)),
    )
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return (
        f'<header><h1>Case <code id="case-id">{_e(export.case_id)}</code></h1>'
        f'<p class="subtitle">Auditor\'s export of the case history</p>'
        f'<dl class="facts">{items}</dl></header>'
    )


def _verification(report: ChainReport) -> str:
    if report.ok:
        line = (
            f"✓ Hash chain verified: {_e(report.event_count)} events, head hash "
            f"<code>{_e(report.head_hash)}</code>"
        )
        note = "Every stored event matches its hash and names the hash of the event before it."
        return _verification_box("ok", line, note)
    line = f"✗ Hash chain BROKEN at version {_e(report.first_bad_version)}: {_e(report.problem)}"
    note = (
        f"{report.event_count} events were read. Events from version "
        f"{report.first_bad_version} on cannot be trusted; they are shown as stored."
    )
    return _verification_box("broken", line, note)


def _verification_box(status: str, line: str, note: str) -> str:
    return (
        f'<section class="verification {status}" id="verification">'
        f'<p class="verdict">{line}</p><p class="note">{_e(note)}</p></section>'
    )


def _nav() -> str:
    links = (
        ("promises", "Promises"),
        ("refused-contacts", "Refused contacts"),
        ("timeline", "Timeline"),
    )
    return (
        '<nav class="contents">'
        + " · ".join(f'<a href="#{anchor}-section">{label}</a>' for anchor, label in links)
        + "</nav>"
    )


def _promises(promises: Sequence[PromiseOutcome], currency: str) -> str:
    rows = [
        (
            f"<code>{_e(p.promise_id)}</code>",
            _e(money(p.amount_minor, currency)),
            _e(_time(p.due_time)),
            f'<span class="status status-{_e(p.status.lower())}">{_e(p.status)}</span>',
            _e(money(p.paid_minor, currency)),
            _e(p.status_reason) or EMPTY,
        )
        for p in promises
    ]
    headers = ("Promise", "Amount", "Due (UTC)", "Status", "Paid", "Reason")
    return _section(
        "promises", "Promises and their outcomes", headers, rows, "No promises were recorded."
    )


def _refused_contacts(events: Iterable[ExportedEvent]) -> str:
    rows = []
    for event in events:
        if event.type != "ContactRefused":
            continue
        payload = _payload(event)
        reasons = payload.get("reasons") or []
        if isinstance(reasons, list):
            reasons = ", ".join(map(str, reasons))
        rows.append(
            (
                _e(event.document.get("version")),
                _e(_time(event.document.get("occurred_at"))),
                _e(payload.get("channel")) or EMPTY,
                _e(reasons) or EMPTY,
                _e(_time(payload.get("next_permitted_time"))) or EMPTY,
            )
        )
    headers = ("Version", "Occurred (UTC)", "Channel", "Reasons", "Next permitted (UTC)")
    return _section(
        "refused-contacts", "Refused contacts", headers, rows, "No contact was refused."
    )


def _timeline(events: Sequence[ExportedEvent], currency: str, report: ChainReport) -> str:
    bad = 0 if report.ok else report.first_bad_version
    rows = "\n".join(_event_row(event, currency, bad) for event in events)
    return (
        '<section id="timeline-section"><h2>Timeline</h2>'
        f'<p class="hint">{len(events)} events in version order. Business time is when it '
        "happened, record time when the service wrote it; both in UTC.</p>"
        '<table id="timeline" class="timeline"><thead><tr>'
        "<th>Version</th><th>Event</th><th>Times (UTC)</th><th>Details</th><th>Hash</th>"
        f"</tr></thead><tbody>\n{rows}\n</tbody></table></section>"
    )


def _event_row(event: ExportedEvent, currency: str, first_bad_version: int) -> str:
    document = event.document
    version = document.get("version")
    suspect = isinstance(version, int) and 0 < first_bad_version <= version
    classes = "event suspect" if suspect else "event"
    request = document.get("request_id") or ""
    fingerprint = document.get("request_fingerprint") or ""
    return (
        f'<tr class="{classes}" id="v{_e(version)}" data-version="{_e(version)}" '
        f'data-type="{_e(event.type)}">'
        f'<td class="version">{_e(version)}</td>'
        f'<td class="what"><span class="type">{_e(event.type)}</span>{_personal_tag(event)}'
        f'<span class="label">actor</span> {_e(document.get("actor")) or EMPTY}'
        f'<span class="label">request</span> '
        f'<code title="fingerprint {_e(fingerprint)}">{_e(request) or EMPTY}</code></td>'
        f'<td class="times"><span class="label">business</span> '
        f"{_e(_time(document.get('occurred_at'))) or EMPTY}"
        f'<span class="label">recorded</span> {_e(_time(document.get("recorded_at"))) or EMPTY}'
        f"</td>"
        f'<td class="payload">{_payload_list(_payload(event), currency)}</td>'
        f'<td class="hash">{_hash("hash", event.hash)}'
        f"{_hash('previous', document.get('previous_hash'))}</td>"
        "</tr>"
    )


def _personal_tag(event: ExportedEvent) -> str:
    if "debtor" not in _payload(event):
        return ""
    return '<span class="tag" title="contains the debtor\'s personal data">personal data</span>'


def _footer() -> str:
    return (
        "<footer>Written by <code>casebook audit export</code>. Each event's hash is the "
        "SHA-256 of the canonical JSON of its sealed document; the JSONL export "
        "(<code>--format jsonl</code>) lets anyone recompute them.</footer>"
    )


# ------------------------------------------------------------------ pieces
def money(minor: int, currency: str) -> str:
    """Integer minor units as an amount with two decimals: 50000, "CNY" -> "500.00 CNY".
    Anything else (only a tampered store holds it) is shown as it is, quoted."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        return f"{minor!r} {currency}"
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d} {currency}"


def _section(
    anchor: str,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    when_empty: str,
) -> str:
    """A titled table of already escaped cells, or a line saying there is nothing."""
    heading = f'<section id="{anchor}-section"><h2>{title}</h2>'
    if not rows:
        return f'{heading}<p class="none">{when_empty}</p></section>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'{heading}<table id="{anchor}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</section>"
    )


def _payload(event: ExportedEvent) -> dict[str, Any]:
    payload = event.document.get("payload")
    return payload if isinstance(payload, dict) else {"payload": payload}


def _payload_list(payload: dict[str, Any], currency: str) -> str:
    if not payload:
        return EMPTY
    items = "".join(
        f"<dt>{_e(key)}</dt><dd>{_value(key, value, currency)}</dd>"
        for key, value in sorted(payload.items())
    )
    return f'<dl class="fields">{items}</dl>'


def _value(key: str, value: Any, currency: str) -> str:
    """One payload value, escaped: text as is, amounts also as money, objects as nested
    lists, a list's items one a line as compact JSON, anything else as JSON."""
    if value == "":
        return EMPTY
    if isinstance(value, str):
        return _e(value)
    if key.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
        return f'{_e(value)} <span class="money">({_e(money(value, currency))})</span>'
    if isinstance(value, dict) and value:
        return _payload_list(value, currency)
    if isinstance(value, list) and value:
        return "<br>".join(f"<code>{_e(canonical_json(item))}</code>" for item in value)
    if isinstance(value, dict | list):
        return f"<code>{_e(canonical_json(value))}</code>"
    return _e(canonical_json(value))  # numbers, true/false, null


def _hash(label: str, value: Any) -> str:
    text = str(value or "")
    shown = _e(text[:SHORT_HASH] + "…") if len(text) > SHORT_HASH else (_e(text) or EMPTY)
    return f'<span class="label">{label}</span> <code title="{_e(text)}">{shown}</code>'


def _time(value: Any) -> str:
    """A time as stored (RFC 3339 UTC text) or a datetime, readably: 2026-11-23 02:00:00Z."""
    if value is None or value == "":
        return ""
    return str(canonical(value)).replace("T", " ", 1)


def _e(value: Any) -> str:
    """Escaped text for HTML content and quoted attributes; None shows as nothing."""
    return "" if value is None else html.escape(str(value), quote=True)


STYLE = """
:root { --ink: #1d232b; --muted: #5d6875; --line: #d7dce2; --soft: #f4f6f8;
  --ok: #17633a; --ok-bg: #e6f4ea; --bad: #a4161a; --bad-bg: #fdecea; --warn-bg: #fff6dc; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.92em; overflow-wrap: anywhere; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
.subtitle, .hint, .none, footer { color: var(--muted); }
.subtitle { margin: 2px 0 12px; }
.notice { background: var(--warn-bg); border: 1px solid #e8c35a; border-radius: 6px;
  padding: 8px 12px; margin-bottom: 16px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 8px 16px; margin: 0; }
.facts div { background: var(--soft); border-radius: 6px; padding: 6px 10px; }
.facts dt { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .03em; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.verification { margin: 18px 0 8px; padding: 12px 16px; border-radius: 6px; border: 2px solid; }
.verification.ok { color: var(--ok); background: var(--ok-bg); border-color: var(--ok); }
.verification.broken { color: var(--bad); background: var(--bad-bg); border-color: var(--bad); }
.verification p { margin: 0; }
.verdict { font-size: 17px; font-weight: 700; }
.verification .note { margin-top: 4px; color: var(--ink); }
.contents { margin: 10px 0 0; }
.contents a { color: #1f5fae; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px;
  border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-size: 12px; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted); }
.status { font-weight: 700; padding: 1px 6px; border-radius: 4px; background: var(--soft); }
.status-kept { color: var(--ok); background: var(--ok-bg); }
.status-broken { color: var(--bad); background: var(--bad-bg); }
.timeline td.version { font-weight: 700; width: 4em; }
.timeline td.what { width: 15em; }
.timeline td.times { width: 13em; white-space: nowrap; }
.timeline td.hash { width: 12em; }
.timeline .type { display: block; font-weight: 700; margin-bottom: 2px; }
.label { display: block; font-size: 11px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .03em; margin-top: 2px; }
.fields { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.money { color: var(--muted); }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 4px;
  background: var(--warn-bg); border: 1px solid #e8c35a; }
.empty { color: #9aa3ad; }
tr.event:nth-child(even) { background: #fafbfc; }
tr.suspect { background: var(--bad-bg) !important; }
tr.suspect td.version { color: var(--bad); }
footer { margin-top: 28px; font-size: 12px; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .contents { display: none; }
  thead { display: table-header-group; }
  tr, .verification, .notice, .facts { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""
