"""`make run`: both services on SQLite files under ./var, a dev SMTP server and SMS gateway
that print what they receive, the demo run once, then serving until Ctrl-C."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from eventsourcing.cryptography import AESCipher

from casebook_common.devsinks import HttpSink, SmtpSink

CASE = os.environ.get("CASEBOOK_CASE_LISTEN", "127.0.0.1:50051")
NOTIFY = os.environ.get("CASEBOOK_NOTIFY_LISTEN", "127.0.0.1:50052")


def _start(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        # Our own modules under this interpreter: no outside input reaches the command.
        process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=log, stderr=log)  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log_path.read_bytes()[offset:].splitlines():
            try:
                if json.loads(line).get("event") == "listening":
                    return process
            except ValueError:
                continue
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"{module} did not start; see {log_path}")


def _dev_cipher_key(path: Path) -> Path:
    """The dev store is encrypted like production; its key is made once, owner-readable."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(AESCipher.create_key(32) + "\n")
    return path


def main() -> None:
    Path("var").mkdir(exist_ok=True)
    smtp, gateway = SmtpSink(echo=True), HttpSink(echo=True)
    base = dict(os.environ, CASEBOOK_LOG_FORMAT="json")
    if not base.get("CASEBOOK_CIPHER_KEY"):
        base.setdefault(
            "CASEBOOK_CIPHER_KEY_FILE", str(_dev_cipher_key(Path("var/casebook-cipher.key")))
        )
    processes = []
    try:
        processes.append(
            _start(
                "casebook_case.server", dict(base, CASEBOOK_CASE_LISTEN=CASE), Path("var/case.log")
            )
        )
        processes.append(
            _start(
                "casebook_notify.server",
                dict(
                    base,
                    CASEBOOK_NOTIFY_LISTEN=NOTIFY,
                    CASEBOOK_NOTIFY_CASE_ADDRESS=CASE,
                    CASEBOOK_NOTIFY_SMTP_PORT=str(smtp.port),
                    CASEBOOK_NOTIFY_SMS_URL=gateway.url("/sms"),
                    CASEBOOK_NOTIFY_ALERT_WEBHOOK_URL=gateway.url("/alerts"),
                ),
                Path("var/notify.log"),
            )
        )
        print(f"case service   {CASE}   (SQLite var/casebook-case.db, log var/case.log)")
        print(f"notify service {NOTIFY}   (SQLite var/casebook-notify.db, log var/notify.log)")
        print(f"dev SMTP server 127.0.0.1:{smtp.port}, dev SMS gateway {gateway.url('/sms')}")
        print(
            "!! DEVELOPMENT MODE: no TLS, no authentication, loopback only; never real debtors'"
            " data (README, Security)"
        )
        print("\ndemo: open a case, log a contact, record a promise, pay it:\n")
        subprocess.run(
            [sys.executable, "-m", "casebook_case.demo"],
            env=dict(os.environ, CASEBOOK_CASE_ADDRESS=CASE),
            check=True,
        )
        print("\naudit: export CASEBOOK_CIPHER_KEY_FILE=var/casebook-cipher.key  # encrypted store")
        print("       .venv/bin/casebook audit verify --all")
        print("       .venv/bin/casebook audit export CASE_ID --format html -o var/case.html")
        print(f"\nserving; try: grpcurl -plaintext {CASE} list   (Ctrl-C stops)")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a service stopped; see var/*.log")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(30)
        smtp.stop()
        gateway.stop()


if __name__ == "__main__":
    main()
