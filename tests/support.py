"""Test harness: real databases, real gRPC servers on real sockets, a clock tests control."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_status import rpc_status

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.config import CaseConfig
from casebook_case.server import RunningServer, start_server
from casebook_common.clock import ManualClock

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CASEBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The AES key test stores are encrypted with (tests that read stores directly use it too).
TEST_CIPHER_KEY = "dGVzdC1rZXktMzItYnl0ZXMtbG9uZy0tLS0tLS0tLS0="
# A Monday morning in Shanghai, inside contact hours.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new empty database for one test, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"casebook_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class InProcessServer:
    """The real aio server on a loopback port, its event loop on a thread of its own."""

    def __init__(
        self,
        db_url: str,
        clock: ManualClock,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        token: str = "",
        **config: Any,
    ) -> None:
        """`config`: CaseConfig fields (e.g. security=SecurityConfig(...) for TLS and auth);
        `credentials` / `token`: how `self.stub` connects (TLS, bearer token)."""
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        config.setdefault("cipher_key", TEST_CIPHER_KEY)  # stored encrypted, as in production
        cfg = CaseConfig(db_url=db_url, listen="127.0.0.1:0", **config)
        self.running: RunningServer = self._call(start_server(cfg, clock))
        self.port = self.running.port
        self.app = self.running.app
        self.channel = client_channel(f"127.0.0.1:{self.port}", credentials, token)
        self.stub = rpc.CaseServiceStub(self.channel)

    def _call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.channel.close()
        try:
            self._call(self.running.stop(1.0))
        except TimeoutError:
            dump_stuck_stop(self.loop)
            raise
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def dump_stuck_stop(loop: asyncio.AbstractEventLoop) -> None:
    """A server's stop that does not finish: every thread's stack and every task's, so the
    test log says where it waits."""
    import faulthandler

    faulthandler.dump_traceback(all_threads=True)
    for task in asyncio.all_tasks(loop):
        # Frames by hand: Task.print_stack fails on grpc's Cython frames (no line number).
        frames = [
            f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in task.get_stack()
        ]
        print(f"task {task.get_name()}: {' <- '.join(reversed(frames))}", file=sys.stderr)


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Sends `authorization: Bearer <token>` with every call."""

    def __init__(self, token: str) -> None:
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), self.header])

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    intercept_unary_stream = intercept_unary_unary
    intercept_stream_unary = intercept_unary_unary
    intercept_stream_stream = intercept_unary_unary


def client_channel(
    target: str, credentials: grpc.ChannelCredentials | None = None, token: str = ""
) -> grpc.Channel:
    """A channel to `target`: TLS with `credentials` (else plain text), `token` on each call."""
    channel = (
        grpc.secure_channel(target, credentials)
        if credentials is not None
        else grpc.insecure_channel(target)
    )
    return grpc.intercept_channel(channel, _BearerToken(token)) if token else channel


class ServerProcess:
    """The case service as its own process, as ops run it."""

    module = "casebook_case.server"
    prefix = "CASEBOOK_CASE"

    def __init__(self, db_url: str, log_path: Path, **env: str) -> None:
        self.db_url = db_url
        self.log_path = log_path
        self.extra_env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30) -> ServerProcess:
        env = dict(os.environ)
        env.update(
            {
                f"{self.prefix}_DB_URL": self.db_url,
                f"{self.prefix}_LISTEN": f"127.0.0.1:{self.port}",
                "CASEBOOK_LOG_FORMAT": "json",
                "CASEBOOK_CIPHER_KEY": TEST_CIPHER_KEY,
            },
            **self.extra_env,
        )
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_bytes()[offset:].splitlines():
                record = _json(line)
                if record.get("event") == "listening":
                    self.port = int(record["port"])
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        raise TimeoutError("server did not start")

    def stub(self) -> tuple[grpc.Channel, rpc.CaseServiceStub]:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return channel, rpc.CaseServiceStub(channel)

    def log_records(self) -> list[dict[str, Any]]:
        return [r for r in map(_json, self.log_path.read_bytes().splitlines()) if r]

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(30)


class NotifyProcess(ServerProcess):
    """The notify service as its own process. A restart keeps its port."""

    module = "casebook_notify.server"
    prefix = "CASEBOOK_NOTIFY"

    def stub(self):  # type: ignore[override]
        from casebook.v1 import notify_service_pb2_grpc as nrpc

        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return channel, nrpc.NotifyServiceStub(channel)


def _json(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def open_case(
    stub: rpc.CaseServiceStub,
    *,
    request_id: str | None = None,
    amount: int = 100_000,
    dpd: int = 30,
    time_zone: str = "Asia/Shanghai",
    profile: str = "",
) -> pb.Case:
    return stub.OpenCase(
        svc.OpenCaseRequest(
            request_id=request_id or uuid.uuid4().hex,
            account_id=f"ACC-{uuid.uuid4().hex[:8]}",
            debtor=pb.Debtor(
                name="Li Lei",
                phone="+8613800138000",
                email="li.lei@example.cn",
                address="1 Chang'an Avenue, Beijing",
                time_zone=time_zone,
                id_number="110101199003070000",
            ),
            profile=profile,
            overdue_amount_minor=amount,
            currency="CNY",
            days_past_due=dpd,
        )
    )


def history(stub: rpc.CaseServiceStub, case_id: str) -> list[pb.CaseEvent]:
    return list(stub.GetCaseHistory(svc.GetCaseHistoryRequest(case_id=case_id)))


def details(error: grpc.RpcError) -> dict[str, Any]:
    """The google.rpc details of a failed call, unpacked by type name."""
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)
    found: dict[str, Any] = {}
    if status is None:
        return found
    for detail in status.details:
        for cls in (
            error_details_pb2.BadRequest,
            error_details_pb2.ErrorInfo,
            error_details_pb2.ResourceInfo,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.RetryInfo,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found[cls.__name__] = message
    return found


def refused(call: Any, code: grpc.StatusCode, reason: str = "") -> grpc.RpcError:
    """Run a call that must fail with `code` (and ErrorInfo `reason`); return its error."""
    import pytest

    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert error.code() == code, error.details()
    if reason:
        assert details(error)["ErrorInfo"].reason == reason, error.details()
    return error


def state(answer: Any) -> Any:
    """A command's answer (a Case, or a response holding one) as a read would show it: without
    `log_position`, which a command's Case carries (the head of the log for a retry) and a
    read leaves 0. Everything else must match exactly."""
    shown = type(answer)()
    shown.CopyFrom(answer)
    case = shown if isinstance(shown, pb.Case) else shown.case
    case.ClearField("log_position")
    return shown


def get(stub: rpc.CaseServiceStub, case_id: str) -> pb.Case:
    return stub.GetCase(svc.GetCaseRequest(case_id=case_id))


def violations(error: grpc.RpcError) -> set[str]:
    bad_request = details(error).get("BadRequest")
    return {v.field for v in bad_request.field_violations} if bad_request else set()


def later(days: float = 0, hours: float = 0, seconds: float = 0, base: datetime = T0) -> datetime:
    return base + timedelta(days=days, hours=hours, seconds=seconds)
