"""The dev sinks as the compose `devsinks` container runs them: a process listening on every
interface that takes notify's e-mail and SMS, prints a masked line for each (no address or
phone number in clear), answers its health check, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import smtplib
import socket
import subprocess
import sys
import urllib.request

from tests.support import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check(smtp: int, http: int) -> int:
    return subprocess.run(
        [sys.executable, "-m", "casebook_common.devsinks_serve", "--check",
         "--smtp-port", str(smtp), "--http-port", str(http)],
        cwd=ROOT, capture_output=True, timeout=30,
    ).returncode  # fmt: skip


def test_the_sinks_take_mail_and_sms_print_them_masked_and_stop_on_sigterm():
    smtp_port, http_port = free_port(), free_port()
    assert check(smtp_port, http_port) == 1  # nothing there yet
    process = subprocess.Popen(
        [sys.executable, "-m", "casebook_common.devsinks_serve", "--host", "0.0.0.0",
         "--smtp-port", str(smtp_port), "--http-port", str(http_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("dev sinks: SMTP 0.0.0.0:")
        assert check(smtp_port, http_port) == 0
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail(
                "collections@casebook.invalid",
                ["li.lei@example.cn"],
                "Message-ID: <r-1@casebook>\r\nSubject: reminder\r\n\r\nplease pay",
            )
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/sms",
            data=json.dumps({"to": "+8613800138000", "text": "please pay"}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "r-2"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "[dev smtp] reminder e-mail to" in output and "[dev http] POST /sms" in output
    assert "li.lei@example.cn" not in output and "8613800138000" not in output
