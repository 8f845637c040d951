"""`casebook`: the operator's and auditor's command line, working on the case store directly.

    casebook audit history CASE_ID             readable table of a case's events
    casebook audit verify CASE_ID | --all      recompute hash chains (and check a saved digest)
    casebook audit export CASE_ID --format jsonl|html [--output FILE]
    casebook audit digest [--position P]       digest over every case head (signed if keyed)
    casebook audit access CASE_ID              who read the case, when and how
    casebook audit keygen PRIVATE PUBLIC       a new Ed25519 key pair for signing digests
    casebook projections rebuild               empty the worklist tables, replay the whole log
    casebook report --from ISO --to ISO [--png FILE]   portfolio statistics over a period

Every read of a case is written to the access log under --actor (default cli:<user>).
An encrypted store needs its key: CASEBOOK_CIPHER_KEY or CASEBOOK_CIPHER_KEY_FILE.
Exit status: 0 fine, 1 a verification failed, 2 bad usage or no such store or case.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from casebook_case.access_log import Reader
from casebook_case.application import CaseApplication
from casebook_case.audit_export import build_export
from casebook_case.config import CaseConfig, ConfigError, cipher_key_from_env
from casebook_case.domain.canonical import canonical
from casebook_case.domain.errors import DomainError
from casebook_case.history import event_payload
from casebook_case.ledger import signed_message
from casebook_case.projections.projector import BatchOutcome, Projector
from casebook_case.projections.report import render_text, write_chart
from casebook_case.projections.stats import portfolio_stats
from casebook_case.signing import (
    Signer,
    SigningKeyError,
    generate_key_pair,
    load_public_key,
    signature_valid,
)
from casebook_common.clock import clock_from_env
from casebook_common.logging import mask_personal_data


class UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        status = args.run(args)
    except (UsageError, DomainError, SigningKeyError, ConfigError) as error:
        print(f"casebook: {_message(error)}", file=sys.stderr)
        status = 2
    sys.exit(status)


def _message(error: Exception) -> str:
    return str(error) or type(error).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casebook", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    audit = commands.add_parser("audit", help="read, verify and export case histories")
    verbs = audit.add_subparsers(dest="verb", required=True)

    def verb(name: str, help_text: str, run: Any, store: bool = True) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        if store:
            _db_argument(sub)
            sub.add_argument(
                "--actor",
                default=f"cli:{getpass.getuser()}",
                help="who is reading, for the access log (default: %(default)s)",
            )
        sub.set_defaults(run=run)
        return sub

    history = verb("history", "print a case's events as a table", _history)
    history.add_argument("case_id")

    verify = verb("verify", "recompute hash chains from the stored events", _verify)
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("case_id", nargs="?")
    which.add_argument("--all", action="store_true", help="every case in the store")
    verify.add_argument("--digest", type=Path, help="a saved digest (JSON) to check against")
    verify.add_argument("--public-key", type=Path, help="PEM key to check its signature with")

    export = verb("export", "write an auditor's export of one case", _export)
    export.add_argument("case_id")
    export.add_argument("--format", choices=("jsonl", "html"), required=True)
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")

    digest = verb("digest", "print the digest over every case head as JSON", _digest)
    digest.add_argument("--position", type=int, default=0, help="log position (default: head)")
    digest.add_argument(
        "--key-file",
        default=os.environ.get("CASEBOOK_LEDGER_KEY_FILE", ""),
        help="Ed25519 private key to sign with (default: $CASEBOOK_LEDGER_KEY_FILE)",
    )

    access = verb("access", "print the access log of a case", _access)
    access.add_argument("case_id")

    keygen = verb("keygen", "write a new Ed25519 key pair for signing digests", _keygen, False)
    keygen.add_argument("private_key", type=Path)
    keygen.add_argument("public_key", type=Path)

    projections = commands.add_parser(
        "projections", help="the read side's tables (worklists, portfolio statistics)"
    )
    projection_verbs = projections.add_subparsers(dest="verb", required=True)
    text = "empty the projection tables and replay the whole event log into them"
    rebuild = projection_verbs.add_parser("rebuild", help=text, description=text)
    _db_argument(rebuild)
    rebuild.set_defaults(run=_rebuild)

    text = "print portfolio statistics over a period, and draw them as a PNG chart"
    report = commands.add_parser("report", help=text, description=text)
    _db_argument(report)
    report.add_argument(
        "--from",
        dest="start",
        type=_instant,
        required=True,
        help="start of the period (RFC 3339, or a date: midnight UTC)",
    )
    report.add_argument(
        "--to", dest="end", type=_instant, required=True, help="end of the period, excluded"
    )
    report.add_argument("--png", type=Path, help="write a chart of the figures to this file")
    report.set_defaults(run=_report)
    return parser


def _db_argument(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--db",
        default=os.environ.get("CASEBOOK_CASE_DB_URL") or CaseConfig.db_url,
        help="case store URL (default: $CASEBOOK_CASE_DB_URL or %(default)s)",
    )


def _instant(value: str) -> datetime:
    """An RFC 3339 time (a time without offset is UTC) or a date (its midnight, UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@contextmanager
def _store(args: argparse.Namespace, signer: Signer | None = None) -> Iterator[CaseApplication]:
    url: str = args.db
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///").split("?")[0])
        if not path.exists():
            raise UsageError(f"no case store at {path}")
    app = CaseApplication(
        url, clock=clock_from_env(), signer=signer, cipher_key=cipher_key_from_env(os.environ)
    )
    try:
        yield app
    finally:
        app.close()


# ----------------------------------------------------------------------- verbs
def _history(args: argparse.Namespace) -> int:
    with _store(args) as app:
        rows = [
            (
                str(event.originator_version),
                type(event).__name__,
                _time(event.occurred_at),
                _time(event.timestamp),
                event.actor,
                _summary(event),
            )
            for event in app.history(args.case_id, reader=Reader(args.actor, "cli-history"))
        ]
    _table(("VERSION", "TYPE", "OCCURRED (UTC)", "RECORDED (UTC)", "ACTOR", "DETAILS"), rows)
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _store(args) as app:
        if not args.all:
            report = app.verify_case(args.case_id, Reader(args.actor, "cli-verify"))
            if report.ok:
                print(f"ok: {report.event_count} events, head {report.head_hash}")
                return 0
            print(f"BROKEN at version {report.first_bad_version}: {report.problem}")
            return 1
        broken = 0
        events = 0
        case_ids = app.ledger.case_ids()
        progress = Progress(len(case_ids), "verifying")
        for case_id in case_ids:
            report = app.verify_case(str(case_id), Reader(args.actor, "cli-verify-all"))
            events += report.event_count
            if not report.ok:
                broken += 1
                progress.say(
                    f"BROKEN {case_id} at version {report.first_bad_version}: {report.problem}"
                )
            progress.advance()
        progress.done()
        print(f"{len(case_ids)} cases, {events} events: {broken} broken")
        digest_ok = _check_digest(app, args) if args.digest else True
        return 0 if broken == 0 and digest_ok else 1


def _check_digest(app: CaseApplication, args: argparse.Namespace) -> bool:
    try:
        saved = json.loads(args.digest.read_text())
        position, digest = int(saved["position"]), str(saved["digest"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read a digest from {args.digest}: {error}") from None
    if args.public_key:
        key = load_public_key(args.public_key)
        if not signature_valid(key, signed_message(position, digest), saved.get("signature", "")):
            print(f"digest at position {position}: SIGNATURE INVALID")
            return False
        print(f"digest at position {position}: signature valid")
    head = app.ledger.head_position()
    if position > head:
        print(f"digest at position {position}: MISMATCH (the log now ends at {head})")
        return False
    now = app.ledger_digest(position)
    if now.digest != digest:
        print(f"digest at position {position}: MISMATCH (saved {digest}, now {now.digest})")
        return False
    print(f"digest at position {position}: matches ({now.case_count} cases)")
    return True


def _export(args: argparse.Namespace) -> int:
    with _store(args) as app:
        export = build_export(app, args.case_id, args.actor, args.format)
    if args.format == "jsonl":
        text = export.jsonl()
    else:
        from casebook_case.audit_html import render_html

        text = render_html(export)
    if args.output:
        _write_private(args.output, text)
        status = "verified" if export.verification.ok else "BROKEN"
        print(f"wrote {len(export.events)} events ({status}) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0 if export.verification.ok else 1


def _write_private(path: Path, text: str) -> None:
    """Exports hold personal data: readable by their owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file was already there
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def _digest(args: argparse.Namespace) -> int:
    signer = Signer.from_file(args.key_file) if args.key_file else None
    with _store(args, signer) as app:
        digest = app.ledger_digest(args.position)
    print(
        json.dumps(
            {
                "position": digest.position,
                "digest": digest.digest,
                "case_count": digest.case_count,
                "signature": digest.signature,
                "key_id": digest.key_id,
            },
            indent=2,
        )
    )
    return 0


def _access(args: argparse.Namespace) -> int:
    with _store(args) as app:
        entries = app.access_log.entries(case_id=args.case_id)
    _table(
        ("ACCESSED (UTC)", "ACTOR", "ACTION", "DETAIL", "OUTCOME", "REQUEST"),
        [
            (_time(e.accessed_at), e.actor, e.action, e.detail, e.outcome, e.request_id)
            for e in entries
        ],
    )
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    """Safe while servers run: their projectors and this one take turns batch by batch
    (compare-and-set on the position), so every event is applied exactly once."""
    with _store(args) as app:
        projector = Projector(app, batch_size=1000)
        projector.ensure_tables()
        projector.reset()
        progress = Progress(app.head_position(), "replaying")
        applied = 0

        def moved(outcome: BatchOutcome) -> None:
            nonlocal applied
            applied += outcome.applied
            progress.total = max(progress.total, outcome.position)
            progress.advance(outcome.position - progress.count)

        reached = projector.catch_up(moved)
        progress.done()
    print(f"projections rebuilt up to log position {reached} ({applied} events replayed here)")
    return 0


def _report(args: argparse.Namespace) -> int:
    if args.end <= args.start:
        raise UsageError("--to must be later than --from")
    with _store(args) as app:
        projector = Projector(app)
        projector.ensure_tables()
        projector.catch_up()  # figures as of now, whether or not a server is running
        stats = portfolio_stats(app, args.start, args.end)
    sys.stdout.write(render_text(stats))
    sys.stdout.flush()
    if args.png:
        write_chart(stats, args.png)
        print(f"chart written to {args.png}", file=sys.stderr)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    try:
        key_id = generate_key_pair(args.private_key, args.public_key)
    except FileExistsError:
        raise UsageError(f"{args.private_key} exists; not overwriting a key") from None
    print(f"key {key_id}: private {args.private_key} (mode 600), public {args.public_key}")
    return 0


# --------------------------------------------------------------------- output
def _time(value: Any) -> str:
    return str(canonical(value)) if value is not None else ""


def _summary(event: Any, width: int = 70) -> str:
    payload = dict(mask_personal_data(None, "", dict(event_payload(event))))
    text = " ".join(
        f"{k}={v}" for k, v in sorted(payload.items()) if v not in ("", None, [], {}, False)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO = sys.stdout) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=out)


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, every 10 % otherwise."""

    def __init__(self, total: int, label: str, out: TextIO = sys.stderr) -> None:
        self.total, self.label, self.out = total, label, out
        self.count = 0
        self.tty = out.isatty()
        self._shown = -1

    def advance(self, by: int = 1) -> None:
        self.count += by
        percent = 100 * self.count // self.total if self.total else 100
        if self.tty or percent // 10 != self._shown // 10:
            self._draw(percent)

    def say(self, line: str) -> None:
        end = "\n"
        print(("\r\033[K" if self.tty else "") + line, file=self.out, end=end)

    def done(self) -> None:
        if self.total == 0 or self._shown != 100:
            self._draw(100)
        if self.tty:
            print(file=self.out)

    def _draw(self, percent: int) -> None:
        self._shown = percent
        filled = percent * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        line = f"{self.label} [{bar}] {percent:3d}% {self.count}/{self.total}"
        print(("\r" + line) if self.tty else line, file=self.out, end="" if self.tty else "\n")
        self.out.flush()
