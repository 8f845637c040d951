"""Real receivers for what notify sends, for tests and `make run`: an SMTP server (aiosmtpd)
and an HTTP endpoint. Each records what it got and can print a masked line for it."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from casebook_common.logging import mask_text


def _free_port() -> int:
    # aiosmtpd's controller checks its server by connecting to the port it was given.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(self, echo: bool = False, port: int = 0, host: str = "127.0.0.1") -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                from email import message_from_bytes

                message = message_from_bytes(envelope.content)
                if echo:
                    print(f"  [dev smtp] reminder e-mail to {mask_text(envelope.rcpt_tos[0])}")
                with sink._lock:
                    sink.messages.append(
                        {
                            "message_id": message["Message-ID"],
                            "to": list(envelope.rcpt_tos),
                            "body": message.get_payload(),
                            "at": time.time(),
                        }
                    )
                return "250 OK"

        self.port = port or _free_port()
        self.controller = Controller(Handler(), hostname=host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class HttpSink:
    """Records POSTed JSON; `fail_next` answers that many requests with `fail_status` first."""

    def __init__(self, echo: bool = False, port: int = 0, host: str = "127.0.0.1") -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.fail_status = 503
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink_lock:
                    if sink.fail_next > 0:
                        sink.fail_next -= 1
                        self.send_response(sink.fail_status)
                        self.end_headers()
                        return
                    if echo:
                        print(f"  [dev http] POST {self.path} ({len(body)} bytes)")
                    sink.requests.append(
                        {
                            "path": self.path,
                            "key": self.headers.get("Idempotency-Key"),
                            "json": json.loads(body),
                            "at": time.time(),
                        }
                    )
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        sink_lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def posted(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
