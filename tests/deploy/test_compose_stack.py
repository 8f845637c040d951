"""docker-compose.yml without Docker: the case and notify services started as real processes
with exactly the environment compose gives them (production mode, mutual TLS, tokens, the
encrypted store), their files swapped for what deploy/dev-secrets.py makes and their
addresses for this machine's. Both pass the image's health check; notify follows the case
service over mutual TLS with its token and schedules reminders for a new promise; the
developer reaches both with client.pem and supervisor.token."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook.v1 import notify_service_pb2 as nsvc
from casebook.v1 import notify_service_pb2_grpc as nrpc
from casebook_common import healthcheck
from casebook_common.devsinks import HttpSink, SmtpSink
from tests import support
from tests.deploy.manifests import compose_containers, load_compose
from tests.deploy.test_environment import _host_env
from tests.support import (
    NotifyProcess,
    ServerProcess,
    client_channel,
    fresh_postgres_database,
    open_case,
    ts,
)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

# Only what cannot be the same on this machine: where things listen and the databases.
LOCAL = {
    "CASEBOOK_CASE_METRICS_LISTEN": "127.0.0.1:0",
    "CASEBOOK_NOTIFY_METRICS_LISTEN": "127.0.0.1:0",
}
ADDRESSES = ("CASEBOOK_CASE_LISTEN", "CASEBOOK_NOTIFY_LISTEN", "CASEBOOK_CASE_DB_URL",
             "CASEBOOK_NOTIFY_DB_URL")  # fmt: skip


def compose_env(service: str, dev_secrets) -> dict[str, str]:
    (container,) = [
        c for c in compose_containers(load_compose(), secrets_dir=dev_secrets) if c.name == service
    ]
    env = {k: v for k, v in _host_env(container, dev_secrets).items() if k not in ADDRESSES}
    return env | {k: v for k, v in LOCAL.items() if k in env}


def developer(dev_secrets, port: int) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(dev_secrets / "ca.pem").read_bytes(),
        private_key=(dev_secrets / "client.key").read_bytes(),
        certificate_chain=(dev_secrets / "client.pem").read_bytes(),
    )
    token = (dev_secrets / "supervisor.token").read_text().strip()
    return client_channel(f"localhost:{port}", credentials, token)


def probe(env: dict[str, str], port: int, capsys) -> tuple[int, str]:
    code = healthcheck.main(["--address", f"127.0.0.1:{port}"], env=env)
    return code, capsys.readouterr().out.strip()


def test_the_compose_environment_runs_both_services_in_production_mode(
    db_url, dev_secrets, tmp_path, capsys, monkeypatch
):
    smtp, gateway = SmtpSink(), HttpSink()
    case_env = compose_env("case", dev_secrets)
    # ServerProcess always hands the case its key by value (CASEBOOK_CIPHER_KEY), and the
    # key and its file together are refused: here the key is the file's. The file form itself
    # goes through the real loader in test_environment.py.
    key_file = case_env.pop("CASEBOOK_CIPHER_KEY_FILE")
    monkeypatch.setattr(support, "TEST_CIPHER_KEY", Path(key_file).read_text().strip())
    case = ServerProcess(db_url, tmp_path / "case.log", **case_env)
    notify = None
    try:
        with fresh_postgres_database() as notify_db:
            case.start(60)
            notify_env = compose_env("notify", dev_secrets) | {
                "CASEBOOK_NOTIFY_CASE_ADDRESS": f"localhost:{case.port}",  # compose: case:50051
                "CASEBOOK_NOTIFY_SMTP_HOST": "127.0.0.1",
                "CASEBOOK_NOTIFY_SMTP_PORT": str(smtp.port),
                "CASEBOOK_NOTIFY_SMS_URL": gateway.url("/sms"),
                "CASEBOOK_NOTIFY_ALERT_WEBHOOK_URL": gateway.url("/alerts"),
            }
            notify = NotifyProcess(notify_db, tmp_path / "notify.log", **notify_env).start(60)
            started = {r["event"]: r for r in case.log_records() if "event" in r}["listening"]
            assert (started["mode"], started["mutual_tls"], started["auth"]) == (
                "production", True, True
            )  # fmt: skip
            assert probe(case_env, case.port, capsys)[0] == 0
            assert probe(notify_env, notify.port, capsys)[0] == 0

            with developer(dev_secrets, case.port) as channel:
                cases = rpc.CaseServiceStub(channel)
                opened = open_case(cases)
                cases.LogContact(
                    svc.LogContactRequest(
                        case_id=opened.case_id,
                        channel=pb.PHONE,
                        direction=pb.INBOUND,
                        outcome=pb.RIGHT_PARTY_VERIFIED,
                        agent_id="dev",
                    )
                )
                cases.RecordPromise(
                    svc.RecordPromiseRequest(
                        case_id=opened.case_id,
                        amount_minor=50_000,
                        due_time=ts(datetime.now(UTC) + timedelta(days=10)),
                        payment_channel=pb.ALIPAY,
                        request_id=uuid.uuid4().hex,
                    )
                )
            with developer(dev_secrets, notify.port) as channel:
                reminders = nrpc.NotifyServiceStub(channel)
                deadline = time.monotonic() + 30
                found = []
                while not found and time.monotonic() < deadline:
                    request = nsvc.ListRemindersRequest(case_id=opened.case_id)
                    found = list(reminders.ListReminders(request, timeout=10).reminders)
                    time.sleep(0.2)  # waiting for notify to follow, not for a business time
            assert found, "notify did not follow the case service over mutual TLS"
    finally:
        if notify is not None and notify.process is not None:
            notify.terminate()
        if case.process is not None:
            assert case.terminate() == 0
        smtp.stop()
        gateway.stop()
    (notify_started,) = [r for r in notify.log_records() if r.get("event") == "listening"]
    assert notify_started["mode"] == "production"
    assert all(notify_started[k] for k in ("mutual_tls", "auth", "case_tls", "case_token"))
