"""`python -m casebook_common.healthcheck`, the probe of the image HEALTHCHECK and the
Kubernetes probes, against a real case server: plain, TLS and mutual TLS, reading the same
CASEBOOK_TLS_* variables the server reads. Exit 0 only when SERVING; one line either way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from grpc_health.v1 import health_pb2

from casebook_common import healthcheck
from casebook_common.clock import ManualClock
from tests.support import ROOT, T0, InProcessServer


def probe(port: int, env: dict[str, str], capsys: pytest.CaptureFixture[str], *args: str):
    code = healthcheck.main(["--address", f"127.0.0.1:{port}", *args], env=env)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return code, lines[0]


def tls_env(pki, *, mutual: bool) -> dict[str, str]:
    env = {
        "CASEBOOK_TLS_CERT_FILE": str(pki.server_cert),
        "CASEBOOK_TLS_KEY_FILE": str(pki.server_key),
    }
    if mutual:
        env["CASEBOOK_TLS_CLIENT_CA_FILE"] = str(pki.ca)
    return env


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    server = InProcessServer(
        f"sqlite:///{tmp_path_factory.mktemp('plain')}/case.db", ManualClock(T0)
    )
    yield server
    server.close()


@pytest.fixture(scope="module")
def mutual_tls(pki, tmp_path_factory):
    directory = tmp_path_factory.mktemp("mtls")
    server = InProcessServer(
        f"sqlite:///{directory}/case.db", ManualClock(T0), security=pki.security()
    )
    yield server
    server.close()


def test_a_serving_plain_server_passes(plain, capsys):
    code, line = probe(plain.port, {}, capsys)
    assert code == 0
    assert line.startswith("SERVING 127.0.0.1:")


def test_the_case_service_by_name_passes_and_an_unknown_service_fails(plain, capsys):
    assert probe(plain.port, {}, capsys, "--service", "casebook.v1.CaseService")[0] == 0
    code, line = probe(plain.port, {}, capsys, "--service", "casebook.v1.NoSuchService")
    assert code == 1
    assert "NOT_FOUND" in line


def test_a_server_that_says_not_serving_fails(pki, tmp_path, capsys):
    server = InProcessServer(f"sqlite:///{tmp_path}/case.db", ManualClock(T0))
    try:
        server._call(server.running.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING))
        code, line = probe(server.port, {}, capsys)
    finally:
        server.close()
    assert code == 1
    assert line.startswith("NOT_SERVING 127.0.0.1:")


def test_nothing_listening_fails(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    code, line = probe(port, {}, capsys, "--timeout", "1")
    assert code == 1
    assert line.startswith("UNHEALTHY") and "UNAVAILABLE" in line


def test_a_tls_server_passes_with_its_own_certificate_pinned(pki, tmp_path, capsys):
    server = InProcessServer(
        f"sqlite:///{tmp_path}/case.db", ManualClock(T0), security=pki.security(mutual=False)
    )
    try:
        assert probe(server.port, tls_env(pki, mutual=False), capsys)[0] == 0
        assert probe(server.port, {}, capsys, "--timeout", "2")[0] == 1  # plain text: refused
    finally:
        server.close()


def test_a_tls_server_whose_certificate_is_not_the_one_configured_fails(pki, tmp_path, capsys):
    server = InProcessServer(
        f"sqlite:///{tmp_path}/case.db", ManualClock(T0), security=pki.security(mutual=False)
    )
    env = tls_env(pki, mutual=False) | {"CASEBOOK_TLS_CERT_FILE": str(pki.other_ca)}
    try:
        assert probe(server.port, env, capsys, "--timeout", "2")[0] == 1
    finally:
        server.close()


def test_mutual_tls_with_a_client_certificate_passes(mutual_tls, pki, capsys):
    args = ("--cert-file", str(pki.client_cert), "--key-file", str(pki.client_key))
    assert probe(mutual_tls.port, tls_env(pki, mutual=True), capsys, *args)[0] == 0


def test_mutual_tls_refuses_a_server_only_certificate_as_the_probes(mutual_tls, pki, capsys):
    # tests/security/pki.py issues serverAuth-only certificates: the server's own cannot
    # stand in as the client's (dev-secrets.py issues both usages; see the next test).
    code, line = probe(mutual_tls.port, tls_env(pki, mutual=True), capsys, "--timeout", "2")
    assert code == 1
    assert line.startswith("UNHEALTHY")


def test_a_missing_certificate_file_fails_in_one_line(plain, tmp_path, capsys):
    env = {"CASEBOOK_TLS_CERT_FILE": str(tmp_path / "absent.pem")}
    code, line = probe(plain.port, env, capsys)
    assert code == 1
    assert line.startswith("UNCHECKED") and "cannot read the TLS files" in line


def test_as_a_process_it_prints_one_line_and_nothing_on_stderr(mutual_tls, pki):
    env = dict(os.environ, **tls_env(pki, mutual=True))
    env.pop("GRPC_VERBOSITY", None)
    for args, expected in (
        (["--cert-file", str(pki.client_cert), "--key-file", str(pki.client_key)], 0),
        (["--timeout", "2"], 1),  # a failed handshake: gRPC's own log lines stay quiet
    ):
        done = subprocess.run(
            [sys.executable, "-m", "casebook_common.healthcheck",
             "--address", f"127.0.0.1:{mutual_tls.port}", *args],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == expected, done
        assert len(done.stdout.splitlines()) == 1, done.stdout
        assert done.stderr == ""


def test_bad_usage_is_refused():
    with pytest.raises(SystemExit) as caught:
        healthcheck.main(["--address", "no-port"], env={})
    assert caught.value.code == 2
