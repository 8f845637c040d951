"""Bearer tokens over real TLS: what is refused as UNAUTHENTICATED, with which reason, and
that neither the answer nor the log ever repeats the token."""

from __future__ import annotations

import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casebook.v1 import case_service_pb2 as svc
from casebook_common.security import (
    AGENT,
    AUDITOR,
    AuthError,
    SecurityConfigError,
    TokenVerifier,
    load_verification_keys,
)
from tests.security.calls import captured_logs
from tests.security.pki import AUDIENCE, ISSUER
from tests.support import client_channel, details, refused


def _get_case(stub):
    return lambda: stub.GetCase(svc.GetCaseRequest(case_id=str(uuid.uuid4())), timeout=10)


def _unauthenticated(stub, reason: str, problem: str = "") -> grpc.RpcError:
    error = refused(_get_case(stub), grpc.StatusCode.UNAUTHENTICATED, reason)
    if problem:
        assert details(error)["ErrorInfo"].metadata["problem"] == problem
    return error


def test_a_call_without_a_token_is_unauthenticated_token_missing(callers):
    _unauthenticated(callers.stub(), "TOKEN_MISSING")


def test_a_valid_token_gets_through_to_the_service(callers, pki):
    stub = callers.stub(pki.token("agent-1", AGENT))
    refused(_get_case(stub), grpc.StatusCode.NOT_FOUND)  # authenticated: the case is unknown


def test_an_expired_token_is_token_expired_but_30_seconds_of_skew_are_tolerated(callers, pki):
    _unauthenticated(callers.stub(pki.token("a", AGENT, expires_in=-90)), "TOKEN_EXPIRED")
    skewed = callers.stub(pki.token("a", AGENT, expires_in=-10))
    refused(_get_case(skewed), grpc.StatusCode.NOT_FOUND)


@pytest.mark.parametrize(
    ("what", "claims", "problem"),
    [
        ("another issuer", {"iss": "https://evil.test"}, "issuer"),
        ("no issuer", {"iss": None}, "issuer"),
        ("another audience", {"aud": "payments"}, "audience"),
        ("no audience", {"aud": None}, "audience"),
        ("no expiry", {"exp": None}, "claims"),
        ("no subject", {"sub": ""}, "claims"),
        ("roles not a list", {"roles": "supervisor"}, "claims"),
        ("not valid yet", {"nbf": 4_000_000_000}, "not_yet_valid"),
    ],
)
def test_tokens_with_wrong_claims_are_token_invalid(callers, pki, what, claims, problem):
    token = pki.token("agent-1", AGENT, **claims)
    _unauthenticated(callers.stub(token), "TOKEN_INVALID", problem)


def test_a_token_signed_by_another_key_is_token_invalid(callers, pki):
    forged = pki.token("supervisor-9", "supervisor", key=pki.forger_key)
    _unauthenticated(callers.stub(forged), "TOKEN_INVALID", "signature")


def test_alg_none_and_hs256_keyed_with_the_public_key_are_refused(callers, pki):
    _unauthenticated(callers.stub(pki.unsigned_token("x", "system")), "TOKEN_INVALID", "algorithm")
    confused = pki.hs256_token_keyed_with_public_key("x", "system")
    _unauthenticated(callers.stub(confused), "TOKEN_INVALID", "algorithm")


def test_a_token_of_an_algorithm_other_than_the_keys_is_refused(callers, pki):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = pki.token("agent-1", AGENT, key=rsa_key, algorithm="RS256")
    _unauthenticated(callers.stub(token), "TOKEN_INVALID", "algorithm")


@pytest.mark.parametrize(
    "header", ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_malformed_authorization_headers_are_token_invalid(callers, header):
    stub = callers.stub()
    call = lambda: stub.GetCase(  # noqa: E731
        svc.GetCaseRequest(case_id="x"), metadata=(("authorization", header),), timeout=10
    )
    refused(call, grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")


def test_refusals_are_logged_with_the_actor_and_never_show_the_token(callers, pki):
    expired = pki.token("agent-7", AGENT, expires_in=-300)
    auditor = pki.token("auditor-7", AUDITOR)
    with captured_logs() as logs:
        error = _unauthenticated(callers.stub(expired), "TOKEN_EXPIRED")
        denied = refused(
            lambda: callers.stub(auditor).RecordPromise(
                svc.RecordPromiseRequest(case_id="c-1", request_id="r-1"), timeout=10
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "ROLE_NOT_ALLOWED",
        )
    lines = [entry for entry in logs if entry.get("event") == "rpc"]
    assert [(x["method"], x["status"], x["actor"]) for x in lines] == [
        ("GetCase", "UNAUTHENTICATED", "anonymous"),
        ("RecordPromise", "PERMISSION_DENIED", "auditor-7"),
    ]
    assert lines[1]["case_id"] == "c-1" and lines[1]["request_id"] == "r-1"
    assert lines[1]["reason"] == "ROLE_NOT_ALLOWED"
    for token in (expired, auditor):
        for part in token.split("."):
            assert part not in repr(logs)
            assert part not in error.details() + denied.details()
            assert part not in str(details(error)) + str(details(denied))


def test_health_stays_open_and_reflection_needs_a_valid_token(callers, pki, secured):
    anonymous = client_channel(callers.target, pki.credentials())
    callers.channels.append(anonymous)
    health = health_pb2_grpc.HealthStub(anonymous)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

    def list_services(channel):
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = reflection.ServerReflectionInfo(iter([request]), timeout=10)
        return {s.name for s in response.list_services_response.service}

    refused(lambda: list_services(anonymous), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING")
    with_token = client_channel(callers.target, pki.credentials(), pki.token("a-1", AUDITOR))
    callers.channels.append(with_token)
    assert "casebook.v1.CaseService" in list_services(with_token)


# ------------------------------------------------------------ the verifier on its own
def _public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _claims(**extra):
    import time

    return {"sub": "s", "roles": ["agent"], "iss": ISSUER, "aud": AUDIENCE,
            "exp": int(time.time()) + 60, **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_eddsa_rs256_and_es256_keys_verify_their_tokens(tmp_path, algorithm, make_key):
    key = make_key()
    path = tmp_path / "key.pem"
    path.write_bytes(_public_pem(key))
    verifier = TokenVerifier(load_verification_keys(str(path), "K"), ISSUER, AUDIENCE)
    principal = verifier.verify(jwt.encode(_claims(), key, algorithm=algorithm))
    assert (principal.subject, principal.roles) == ("s", frozenset({"agent"}))


def test_a_key_file_may_hold_the_old_and_the_new_key_during_rotation(tmp_path):
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "keys.pem"
    path.write_bytes(_public_pem(old) + _public_pem(new))
    verifier = TokenVerifier(load_verification_keys(str(path), "K"), ISSUER, AUDIENCE)
    for key in (old, new):
        assert verifier.verify(jwt.encode(_claims(), key, algorithm="EdDSA")).subject == "s"
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(AuthError) as caught:
        verifier.verify(jwt.encode(_claims(), stranger, algorithm="EdDSA"))
    assert caught.value.reason == "TOKEN_INVALID"


def test_unknown_roles_in_a_token_are_ignored(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "key.pem"
    path.write_bytes(_public_pem(key))
    verifier = TokenVerifier(load_verification_keys(str(path), "K"), ISSUER, AUDIENCE)
    token = jwt.encode(_claims(roles=["agent", "root", "admin"]), key, algorithm="EdDSA")
    assert verifier.verify(token).roles == frozenset({"agent"})


def test_key_files_that_cannot_verify_safely_are_refused_at_start(tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    cases = {
        "private.pem": private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "weak-rsa.pem": _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "p384.pem": _public_pem(ec.generate_private_key(ec.SECP384R1())),
        "secret.txt": b"an-hmac-shared-secret",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(SecurityConfigError):
            load_verification_keys(str(path), "CASEBOOK_JWT_PUBLIC_KEY_FILE")
