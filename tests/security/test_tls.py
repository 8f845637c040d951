"""Mutual TLS on real sockets: only a client with a certificate from the bank's CA gets a
connection; plain text, no certificate and another CA's certificate are refused at the
handshake, before any token is looked at."""

from __future__ import annotations

import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc
from casebook_common.clock import ManualClock
from casebook_common.security import AGENT
from tests.support import T0, InProcessServer, client_channel


def _health(channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status


def _refused_at_handshake(channel: grpc.Channel) -> None:
    with channel, pytest.raises(grpc.RpcError) as caught:
        _health(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_banks_client_certificate_gets_a_connection(secured, pki):
    target = f"127.0.0.1:{secured.port}"
    with client_channel(target, pki.credentials(), pki.token("agent-1", AGENT)) as channel:
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        stub = rpc.CaseServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetCase(svc.GetCaseRequest(case_id=str(uuid.uuid4())), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # through TLS and the token


def test_a_client_without_a_certificate_is_refused(secured, pki):
    _refused_at_handshake(
        client_channel(f"127.0.0.1:{secured.port}", pki.credentials(client_cert=False))
    )


def test_a_certificate_from_another_ca_is_refused(secured, pki):
    _refused_at_handshake(client_channel(f"127.0.0.1:{secured.port}", pki.credentials(other=True)))


def test_a_plain_text_client_is_refused(secured):
    _refused_at_handshake(grpc.insecure_channel(f"127.0.0.1:{secured.port}"))


def test_a_client_that_does_not_trust_the_servers_ca_does_not_connect(secured, pki):
    wrong_trust = grpc.ssl_channel_credentials(
        root_certificates=pki.other_ca.read_bytes(),
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    _refused_at_handshake(client_channel(f"127.0.0.1:{secured.port}", wrong_trust))


def test_tls_without_a_client_ca_takes_clients_without_certificates(pki, tmp_path):
    server = InProcessServer(
        f"sqlite:///{tmp_path}/case.db",
        ManualClock(T0),
        security=pki.security(mutual=False),
        credentials=pki.credentials(client_cert=False),
        token=pki.token("agent-1", AGENT),
    )
    try:
        assert _health(server.channel) == health_pb2.HealthCheckResponse.SERVING
        _refused_at_handshake(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    finally:
        server.close()
