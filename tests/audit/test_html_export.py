"""The HTML audit export as an auditor gets it: written by the installed `casebook` command
from the store, opened in a real browser (headless Chromium), checked against the service's
own history; then a database edit must show on the page as a broken chain."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook_case.audit_export import CaseExport, ExportedEvent, PromiseOutcome
from casebook_case.audit_html import render_html
from casebook_case.domain.chain import ChainReport
from tests.audit.tamper import Tamperer
from tests.support import T0, TEST_CIPHER_KEY, history, later, open_case, refused, ts

CASEBOOK = str(Path(sys.executable).with_name("casebook"))
MONDAY_2300_SHANGHAI = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
NOTE = "<script>alert(1)</script> promised to pay & asked for a letter"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required under CI (make browser installs it)")
        pytest.skip("chromium is not installed (make browser installs it)")
    return found


# ------------------------------------------------------------------ the case
@dataclass
class Story:
    case_id: str
    kept: str  # promise ids
    broken: str


def collect_on_a_case(stub, clock) -> Story:
    """Ten events: what a collector does over a few days, including a refused night call."""
    case_id = open_case(stub, amount=100_000).case_id
    kept = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=50_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.ALIPAY,
        )
    ).promise_id
    clock.advance(timedelta(minutes=30))
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case_id,
            channel=pb.PHONE,
            direction=pb.OUTBOUND,
            outcome=pb.RIGHT_PARTY_VERIFIED,
            agent_id="agent-7",
            note=NOTE,
        )
    )
    clock.set(MONDAY_2300_SHANGHAI)
    refused(
        lambda: stub.LogContact(
            svc.LogContactRequest(
                case_id=case_id, channel=pb.PHONE, direction=pb.OUTBOUND, outcome=pb.NO_ANSWER
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "OUTSIDE_CONTACT_HOURS",
    )
    clock.set(later(days=1))
    stub.RecordPayment(
        svc.RecordPaymentRequest(case_id=case_id, amount_minor=50_000, payment_reference="PAY-1")
    )  # keeps the first promise
    broken = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case_id,
            amount_minor=20_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.BANK_TRANSFER,
        )
    ).promise_id
    clock.set(later(days=4))
    stub.MarkPromiseBroken(svc.MarkPromiseBrokenRequest(case_id=case_id, promise_id=broken))
    stub.IssueLetter(svc.IssueLetterRequest(case_id=case_id, letter_type=pb.REMINDER))
    stub.RaiseDispute(svc.RaiseDisputeRequest(case_id=case_id, reason="amount is wrong"))
    return Story(case_id, kept, broken)


# ------------------------------------------------------------------ tools
def export_html(case_id: str, db_url: str, output: Path, verified: bool = True) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOOK_")}
    env["CASEBOOK_CIPHER_KEY"] = TEST_CIPHER_KEY
    export = (CASEBOOK, "audit", "export", case_id, "--format", "html", "--output", str(output))
    result = subprocess.run(
        [*export, "--db", db_url, "--actor", "auditor:test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == (0 if verified else 1), result.stderr
    return output


def browse(chromium: str, page: Path, profile: Path, *args: str) -> str:
    """Run headless Chromium on a local file; what it prints (the DOM for --dump-dom)."""
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        parts = (c if isinstance(c, str) else c.text() for c in self.children)
        return " ".join(" ".join(parts).split())

    def all(self, tag: str = "", cls: str = "") -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if (not tag or child.tag == tag) and (
                    not cls or cls in child.attrs.get("class", "").split()
                ):
                    found.append(child)
                found.extend(child.all(tag, cls))
        return found

    def by_id(self, element_id: str) -> Element:
        (found,) = [e for e in self.all() if e.attrs.get("id") == element_id]
        return found

    def rows(self) -> list[list[str]]:
        """A table's body, one list of cell texts per row."""
        return [[td.text() for td in tr.all("td")] for tr in self.all("tbody")[0].all("tr")]


class DomParser(HTMLParser):
    """The DOM as the browser serialised it (every non-void element closed) as a tree."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID:
            assert self.stack[-1].tag == tag, (self.stack[-1].tag, tag)
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(markup: str) -> Element:
    parser = DomParser()
    parser.feed(markup)
    parser.close()
    return parser.root


def events_shown(dom: Element) -> list[tuple[int, str]]:
    return [(int(e.attrs["data-version"]), e.attrs["data-type"]) for e in dom.all("tr", "event")]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------ tests
def test_html_export_in_a_browser_shows_the_whole_case_and_then_the_tampering(
    chromium, db_url, stub, clock, tmp_path
):
    story = collect_on_a_case(stub, clock)
    written = [(e.version, e.type) for e in history(stub, story.case_id)]
    assert len(written) == 10 and ("ContactRefused" in dict(written).values())

    page = export_html(story.case_id, db_url, tmp_path / "case.html")
    dom = parse(browse(chromium, page, tmp_path / "profile", "--dump-dom"))

    assert dom.all("script") == []  # the contact note's markup stayed text
    assert events_shown(dom) == written
    assert dom.by_id("case-id").text() == story.case_id
    assert "personal data" in dom.by_id("personal-data-notice").text().lower()
    verdict = dom.by_id("verification").text()
    assert verdict.startswith("✓ Hash chain verified: 10 events, head hash "), verdict
    assert history(stub, story.case_id)[-1].hash in verdict

    promises = {row[0]: row for row in dom.by_id("promises").rows()}
    assert promises[story.kept][1:5] == ["500.00 CNY", "2026-11-26 02:00:00Z", "KEPT", "500.00 CNY"]
    assert promises[story.broken][3:5] == ["BROKEN", "0.00 CNY"]
    assert dom.by_id("refused-contacts").rows() == [
        ["4", "2026-11-23 15:00:00Z", "PHONE", "OUTSIDE_CONTACT_HOURS", "2026-11-24 00:00:00Z"]
    ]
    (contact,) = [e for e in dom.all("tr", "event") if e.attrs["data-version"] == "3"]
    assert NOTE in contact.text() and "agent-7" in contact.text()
    (opened,) = [e for e in dom.all("tr", "event") if e.attrs["data-type"] == "CaseOpened"]
    assert "Li Lei" in opened.text() and "110101199003070000" in opened.text()

    shot = tmp_path / "case.png"
    browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one

    # Someone with database access rewrites what the collector noted.
    Tamperer(db_url).change_payload(story.case_id, 3, "note", "debtor refused to pay")
    tampered = export_html(story.case_id, db_url, tmp_path / "tampered.html", verified=False)
    dom = parse(browse(chromium, tampered, tmp_path / "profile", "--dump-dom"))
    verdict = dom.by_id("verification").text()
    assert "Hash chain BROKEN at version 3: version 3 does not match its hash" in verdict
    assert "verified" not in verdict
    assert events_shown(dom) == written  # still every event, as stored
    suspect = [int(e.attrs["data-version"]) for e in dom.all("tr", "suspect")]
    assert suspect == list(range(3, 11))
    assert "debtor refused to pay" in dom.by_id("v3").text()


def test_render_html_escapes_every_value_from_the_store():
    hostile = '"><script>alert(2)</script>'
    document = {
        "topic": "casebook_case.domain.case:Case.ContactLogged",
        "class_version": 1,
        "case_id": "c-1",
        "version": 1,
        "recorded_at": "2026-11-23T02:00:00Z",
        "occurred_at": "2026-11-23T02:00:00Z",
        "actor": "<b>agent</b>",
        "request_id": hostile,
        "request_fingerprint": hostile,
        "previous_hash": "",
        "payload": {"note": "<script>alert(1)</script>", "extra": {"x": "<img src=x>"}},
    }
    export = CaseExport(
        case_id="c-1",
        account_id="<i>ACC</i>",
        currency="CNY",
        stage="EARLY",
        balance_minor=-1_005,
        closed=False,
        exported_at=T0,
        exported_by="auditor:<u>me</u>",
        events=[ExportedEvent(document, hostile)],  # a stored hash can be anything
        verification=ChainReport(False, 1, "", 1, f"version 1 {hostile}"),
        promises=[
            PromiseOutcome("p<1>", 100, T0, "OPEN", 0, "<em>why</em>"),
            PromiseOutcome("p2", "<em>lots</em>", "soon", "<em>", None, ""),  # type: ignore[arg-type]
        ],
    )
    page = render_html(export)
    dom = parse(page)

    for tag in ("script", "img", "b", "i", "u", "em"):
        assert dom.all(tag) == [], tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" in dom.by_id("v1").text()
    attributes = {name for e in dom.all() for name in e.attrs}
    assert attributes <= {
        *("lang", "charset", "http-equiv", "name", "content", "id", "class", "title", "href"),
        *("data-version", "data-type"),
    }
    assert dom.by_id("v1").attrs["data-type"] == "ContactLogged"
    assert hostile in [c.attrs.get("title") for c in dom.by_id("v1").all("code")]
    assert "Balance -10.05 CNY" in dom.all("dl", "facts")[0].text()
    assert dom.by_id("promises").rows()[1][:3] == ["p2", "'<em>lots</em>' CNY", "soon"]
    assert "BROKEN at version 1" in dom.by_id("verification").text()
