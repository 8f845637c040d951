"""deploy/dev-secrets.py makes a working set: a case server configured with its files (mutual
TLS, tokens, the cipher key) answers notify's identity and the developer's, the health check
passes with the server's own certificate, files have the modes the compose mounts need, and
running it again keeps what is there (a new cipher key would lose the data)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_common import healthcheck
from casebook_common.clock import ManualClock
from casebook_common.security import SecurityConfig
from tests.deploy.manifests import DEPLOY
from tests.support import T0, InProcessServer, client_channel, open_case

ISSUER = "https://dev-issuer.casebook.invalid"  # what docker-compose.yml and k8s expect


def make(out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "dev-secrets.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stderr


@pytest.fixture(scope="module")
def dev_server(dev_secrets: Path, tmp_path_factory):
    s = dev_secrets
    server = InProcessServer(
        f"sqlite:///{tmp_path_factory.mktemp('dev')}/case.db",
        ManualClock(T0),
        security=SecurityConfig(
            mode="production",
            tls_cert_file=str(s / "case.pem"),
            tls_key_file=str(s / "case.key"),
            tls_client_ca_file=str(s / "ca.pem"),
            jwt_public_key_file=str(s / "jwt-issuer.pub.pem"),
            jwt_issuer=ISSUER,
            jwt_audience="casebook",
        ),
        cipher_key=(s / "cipher.key").read_text().strip(),
    )
    yield server
    server.close()


def as_(dev_secrets: Path, port: int, identity: str, token: str) -> grpc.Channel:
    """A channel as compose's notify (its own certificate) or the developer (client.pem)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(dev_secrets / "ca.pem").read_bytes(),
        private_key=(dev_secrets / f"{identity}.key").read_bytes(),
        certificate_chain=(dev_secrets / f"{identity}.pem").read_bytes(),
    )
    return client_channel(f"localhost:{port}", credentials, token)


def test_the_certificates_name_the_services_as_compose_and_kubernetes_call_them(dev_secrets):
    for service, names in (
        ("case", {"case", "casebook-case", "casebook-case.casebook.svc", "localhost"}),
        ("notify", {"notify", "casebook-notify", "casebook-notify.casebook.svc"}),
    ):
        certificate = x509.load_pem_x509_certificate((dev_secrets / f"{service}.pem").read_bytes())
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names <= set(sans.get_values_for_type(x509.DNSName))
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)


def test_notify_with_its_certificate_and_token_is_let_in(dev_server, dev_secrets):
    token = (dev_secrets / "notify.token").read_text().strip()
    with (
        as_(dev_secrets, dev_server.port, "notify", token) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        rpc.CaseServiceStub(channel).GetCase(
            svc.GetCaseRequest(case_id=str(uuid.uuid4())), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # past TLS, token and roles


def test_the_developer_as_supervisor_opens_a_case(dev_server, dev_secrets):
    token = (dev_secrets / "supervisor.token").read_text().strip()
    with as_(dev_secrets, dev_server.port, "client", token) as channel:
        case = open_case(rpc.CaseServiceStub(channel))
    assert case.case_id


def test_the_health_check_passes_with_the_servers_own_certificate(dev_server, dev_secrets, capsys):
    env = {
        "CASEBOOK_TLS_CERT_FILE": str(dev_secrets / "case.pem"),
        "CASEBOOK_TLS_KEY_FILE": str(dev_secrets / "case.key"),
        "CASEBOOK_TLS_CLIENT_CA_FILE": str(dev_secrets / "ca.pem"),
    }
    assert healthcheck.main(["--address", f"127.0.0.1:{dev_server.port}"], env=env) == 0
    assert capsys.readouterr().out.startswith("SERVING")


def test_mounted_files_are_readable_by_the_containers_and_the_rest_by_you_only(dev_secrets):
    assert dev_secrets.stat().st_mode & 0o777 == 0o700
    private = {"ca.key", "jwt-issuer.key", "client.pem", "client.key", "supervisor.token",
               "case-db.env", "notify-db.env"}  # fmt: skip
    for path in dev_secrets.iterdir():
        expected = 0o600 if path.name in private else 0o644
        assert path.stat().st_mode & 0o777 == expected, path.name


def test_running_it_again_keeps_everything_and_fills_in_only_what_is_missing(tmp_path):
    out = tmp_path / "secrets"
    make(out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert "kept 17" in make(out)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    (out / "notify.token").unlink()
    assert "made 1 files, kept 16" in make(out)  # the token alone (same bytes in the same second)
    after = {path.name: path.read_bytes() for path in out.iterdir() if path.name != "notify.token"}
    assert after == {name: data for name, data in before.items() if name != "notify.token"}


def test_a_new_ca_brings_new_certificates_but_keeps_the_cipher_key(tmp_path):
    out = tmp_path / "secrets"
    make(out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    (out / "ca.pem").unlink()
    make(out)
    changed = {p.name for p in out.iterdir() if p.read_bytes() != before[p.name]}
    assert changed == {"ca.pem", "ca.key", "case.pem", "case.key", "notify.pem", "notify.key",
                       "client.pem", "client.key"}  # fmt: skip
