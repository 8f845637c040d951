"""`python -m casebook_common.devsinks_serve`: the dev SMTP server and SMS/webhook HTTP
gateway of casebook_common.devsinks as a long-running process (the `devsinks` container of
deploy/docker-compose.yml), printing a masked line for everything notify sends, until SIGTERM.
`--check` instead exits 0 when both ports accept connections (its health check)."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from collections.abc import Sequence

from casebook_common.devsinks import HttpSink, SmtpSink

DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_PORT = 8025


def ports_open(host: str, ports: Sequence[int], timeout: float = 2.0) -> bool:
    for port in ports:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError:
            return False
    return True


def serve(host: str, smtp_port: int, http_port: int) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    smtp, http = SmtpSink(echo=True, port=smtp_port, host=host), None
    try:
        http = HttpSink(echo=True, port=http_port, host=host)
        print(
            f"dev sinks: SMTP {host}:{smtp.port}, HTTP {host}:{http.port} "
            "(POST /sms, /alerts); they record and print, never deliver",
            flush=True,
        )
        stop.wait()
    finally:
        if http is not None:
            http.stop()
        smtp.stop()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="python -m casebook_common.devsinks_serve")
    arguments.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    arguments.add_argument("--smtp-port", type=int, default=DEFAULT_SMTP_PORT)
    arguments.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    arguments.add_argument("--check", action="store_true", help="exit 0 when both ports answer")
    args = arguments.parse_args(argv)
    if args.check:
        target = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
        return 0 if ports_open(target, (args.smtp_port, args.http_port)) else 1
    serve(args.host, args.smtp_port, args.http_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
