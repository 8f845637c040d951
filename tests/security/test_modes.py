"""Production and development mode, as real processes: production refuses to start without
TLS and authentication (exit 2, one line naming everything missing); development without them
serves loopback only and says so loudly; production with everything serves mutual TLS and
tokens, and its log names refused callers but never shows their tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import grpc
import pytest

from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_case.config import CaseConfig, ConfigError
from casebook_common.security import AGENT, AUDITOR, SYSTEM
from casebook_notify.config import ConfigError as NotifyConfigError
from casebook_notify.config import NotifyConfig
from tests.support import ROOT, TEST_CIPHER_KEY, ServerProcess, client_channel, open_case


def _run(module: str, tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("CASEBOOK_TLS", "CASEBOOK_JWT"))
    }
    environment.update(
        CASEBOOK_CASE_DB_URL=f"sqlite:///{tmp_path}/case.db",
        CASEBOOK_NOTIFY_DB_URL=f"sqlite:///{tmp_path}/notify.db",
        CASEBOOK_CIPHER_KEY=TEST_CIPHER_KEY,
        CASEBOOK_NOTIFY_REMINDER_CHANNELS="EMAIL",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", module],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_production_case_service_without_tls_auth_and_cipher_key_does_not_start(tmp_path):
    line = _one_line_refusal(
        _run("casebook_case.server", tmp_path, CASEBOOK_MODE="production", CASEBOOK_CIPHER_KEY="")
    )
    assert line.startswith("casebook-case: production mode refuses to start")
    assert "no TLS (CASEBOOK_TLS_CERT_FILE, CASEBOOK_TLS_KEY_FILE)" in line
    assert "no token verification key (CASEBOOK_JWT_PUBLIC_KEY_FILE)" in line
    assert "no cipher key for personal data at rest (CASEBOOK_CIPHER_KEY" in line


def test_production_notify_names_its_server_and_client_side_gaps(tmp_path):
    line = _one_line_refusal(_run("casebook_notify.server", tmp_path, CASEBOOK_MODE="production"))
    assert line.startswith("casebook-notify: production mode refuses to start")
    for missing in (
        "CASEBOOK_TLS_CERT_FILE",
        "CASEBOOK_JWT_PUBLIC_KEY_FILE",
        "CASEBOOK_NOTIFY_CASE_CA_FILE",
        "CASEBOOK_NOTIFY_CASE_TOKEN_FILE",
    ):
        assert missing in line


def test_production_names_only_what_is_missing(pki):
    env = {"CASEBOOK_MODE": "production", **pki.env()}
    del env["CASEBOOK_JWT_PUBLIC_KEY_FILE"], env["CASEBOOK_JWT_ISSUER"]
    del env["CASEBOOK_JWT_AUDIENCE"]
    with pytest.raises(ConfigError) as caught:
        CaseConfig.from_env(env)
    assert "CASEBOOK_JWT_PUBLIC_KEY_FILE" in str(caught.value)
    assert "TLS" not in str(caught.value)
    production = CaseConfig.from_env({"CASEBOOK_MODE": "production", **pki.env()})
    assert production.security.mutual_tls and production.security.auth


def test_notify_production_config_is_complete_with_case_credentials(pki):
    env = {
        "CASEBOOK_MODE": "production",
        "CASEBOOK_NOTIFY_REMINDER_CHANNELS": "EMAIL",
        **pki.env(),
        "CASEBOOK_NOTIFY_CASE_CA_FILE": str(pki.ca),
        "CASEBOOK_NOTIFY_CASE_CERT_FILE": str(pki.client_cert),
        "CASEBOOK_NOTIFY_CASE_KEY_FILE": str(pki.server_key),  # not the certificate's key
        "CASEBOOK_NOTIFY_CASE_TOKEN_FILE": str(pki.jwt_public),  # any readable file
    }
    with pytest.raises(NotifyConfigError, match="not the key of the certificate"):
        NotifyConfig.from_env(env)
    env["CASEBOOK_NOTIFY_CASE_KEY_FILE"] = str(pki.client_key)
    assert NotifyConfig.from_env(env).case_cert_file == str(pki.client_cert)


@pytest.mark.parametrize("listen", ["0.0.0.0:0", ":0", "[::]:0", "10.1.2.3:0", "casebook:0"])
def test_development_without_tls_or_auth_refuses_a_non_loopback_listen(listen):
    with pytest.raises(ConfigError, match="loopback only"):
        CaseConfig.from_env({"CASEBOOK_CASE_LISTEN": listen})
    with pytest.raises(NotifyConfigError, match="loopback only"):
        NotifyConfig.from_env(
            {"CASEBOOK_NOTIFY_LISTEN": listen, "CASEBOOK_NOTIFY_REMINDER_CHANNELS": "EMAIL"}
        )


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "localhost:0", "[::1]:0", "127.0.0.2:0"])
def test_development_may_listen_on_loopback(listen):
    assert CaseConfig.from_env({"CASEBOOK_CASE_LISTEN": listen}).listen == listen


def test_development_with_tls_and_auth_may_listen_anywhere(pki):
    config = CaseConfig.from_env({"CASEBOOK_CASE_LISTEN": "0.0.0.0:0", **pki.env()})
    assert config.security.mode == "development"


def test_a_non_loopback_listen_in_development_is_refused_by_the_process(tmp_path):
    line = _one_line_refusal(
        _run("casebook_case.server", tmp_path, CASEBOOK_CASE_LISTEN="0.0.0.0:50999")
    )
    assert "CASEBOOK_CASE_LISTEN=0.0.0.0:50999" in line and "loopback only" in line


def test_bad_security_files_are_one_line_config_errors(pki, tmp_path):
    cases = {
        "CASEBOOK_TLS_CERT_FILE": {"CASEBOOK_TLS_CERT_FILE": str(tmp_path / "missing.pem"),
                                   "CASEBOOK_TLS_KEY_FILE": str(pki.server_key)},
        "not the key of the certificate": {"CASEBOOK_TLS_CERT_FILE": str(pki.server_cert),
                                           "CASEBOOK_TLS_KEY_FILE": str(pki.client_key)},
        "both": {"CASEBOOK_TLS_CERT_FILE": str(pki.server_cert)},
        "CASEBOOK_JWT_PUBLIC_KEY_FILE": {"CASEBOOK_JWT_PUBLIC_KEY_FILE": str(pki.server_key)},
        "CASEBOOK_MODE": {"CASEBOOK_MODE": "staging"},
    }  # fmt: skip
    for expected, env in cases.items():
        with pytest.raises(ConfigError, match=expected):
            CaseConfig.from_env(env)


def test_development_mode_says_so_loudly_at_start(tmp_path):
    process = ServerProcess(f"sqlite:///{tmp_path}/case.db", tmp_path / "case.log").start()
    try:
        deadline = time.monotonic() + 10
        while "insecure_development_mode" not in process.log_path.read_text():
            assert time.monotonic() < deadline, process.log_path.read_text()
            time.sleep(0.05)
        text = process.log_path.read_text()
        assert "DEVELOPMENT MODE - NO TLS, NO AUTHENTICATION" in text  # the stderr banner
        (warning,) = [
            r for r in process.log_records() if r.get("event") == "insecure_development_mode"
        ]
        assert warning["level"] == "warning"
        assert warning["missing"] == ["no TLS", "no authentication"]
    finally:
        process.terminate()


def test_production_with_mutual_tls_and_tokens_serves_and_logs_refusals_without_tokens(
    pki, tmp_path
):
    env = {"CASEBOOK_MODE": "production", **pki.env()}
    process = ServerProcess(f"sqlite:///{tmp_path}/case.db", tmp_path / "case.log", **env)
    process.start()
    target = f"127.0.0.1:{process.port}"
    tokens = {
        "system": pki.token("core-banking", SYSTEM),
        "agent": pki.token("agent-7", AGENT),
        "expired": pki.token("auditor-3", AUDITOR, expires_in=-600),
    }
    channels = {name: client_channel(target, pki.credentials(), t) for name, t in tokens.items()}
    try:
        stubs = {name: rpc.CaseServiceStub(channel) for name, channel in channels.items()}
        case = open_case(stubs["system"])
        for name, code in (("agent", "PERMISSION_DENIED"), ("expired", "UNAUTHENTICATED")):
            with pytest.raises(grpc.RpcError) as caught:
                stubs[name].MarkPromiseBroken(
                    svc.MarkPromiseBrokenRequest(
                        case_id=case.case_id, promise_id="p", request_id=uuid.uuid4().hex
                    ),
                    timeout=10,
                )
            assert caught.value.code().name == code
        with pytest.raises(grpc.RpcError) as caught:  # plain text: no answer at all
            rpc.CaseServiceStub(grpc.insecure_channel(target)).GetCase(
                svc.GetCaseRequest(case_id=case.case_id), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        for channel in channels.values():
            channel.close()
        assert process.terminate() == 0
    text = process.log_path.read_text()
    assert "DEVELOPMENT MODE" not in text and "insecure_development_mode" not in text
    calls = [(r["method"], r["status"], r["actor"]) for r in process.log_records()
             if r.get("event") == "rpc"]  # fmt: skip
    assert calls == [
        ("OpenCase", "OK", "core-banking"),
        ("MarkPromiseBroken", "PERMISSION_DENIED", "agent-7"),
        ("MarkPromiseBroken", "UNAUTHENTICATED", "anonymous"),
    ]
    for token in tokens.values():
        for part in token.split("."):
            assert part not in text
