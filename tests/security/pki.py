"""A throw-away PKI and token issuer for the security tests, made with `cryptography`.

- a bank CA, the server certificate it signs (SAN 127.0.0.1 and localhost) and a client
  certificate it signs (what notify or any other caller presents for mutual TLS);
- another CA and a client certificate from it (must be refused);
- the token issuer's Ed25519 key, whose public half the services verify tokens with, and
  a second Ed25519 key nobody trusts (forged signatures).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from casebook_common.security import SecurityConfig
from tests.support import TEST_CIPHER_KEY

ISSUER = "https://idp.bank.test"
AUDIENCE = "casebook"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class Authority:
    key: Any
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def issue(self, name: str, *, server: bool) -> tuple[bytes, bytes]:
        """A leaf certificate (PEM) and its key (PEM) for a server or a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        return certificate.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


class Pki:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        bank, other = Authority.create("Bank Test CA"), Authority.create("Someone Else's CA")
        self.ca = self._write("ca.pem", bank.pem())
        self.other_ca = self._write("other-ca.pem", other.pem())
        cert, key = bank.issue("casebook.bank.test", server=True)
        self.server_cert, self.server_key = (
            self._write("server.pem", cert),
            self._write("server.key", key),
        )
        cert, key = bank.issue("notify.bank.test", server=False)
        self.client_cert, self.client_key = (
            self._write("client.pem", cert),
            self._write("client.key", key),
        )
        cert, key = other.issue("intruder", server=False)
        self.other_cert, self.other_key = (
            self._write("other.pem", cert),
            self._write("other.key", key),
        )
        self.issuer_key = ed25519.Ed25519PrivateKey.generate()
        self.forger_key = ed25519.Ed25519PrivateKey.generate()
        self.jwt_public = self._write("issuer.pub.pem", _pem_public(self.issuer_key))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    # ------------------------------------------------------------------- server side
    def security(self, *, mutual: bool = True, **overrides: Any) -> SecurityConfig:
        settings: dict[str, Any] = dict(
            tls_cert_file=str(self.server_cert),
            tls_key_file=str(self.server_key),
            tls_client_ca_file=str(self.ca) if mutual else "",
            jwt_public_key_file=str(self.jwt_public),
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
        settings.update(overrides)
        return SecurityConfig(**settings)

    def env(self) -> dict[str, str]:
        """The same, as the CASEBOOK_* variables a process reads."""
        return {
            "CASEBOOK_TLS_CERT_FILE": str(self.server_cert),
            "CASEBOOK_TLS_KEY_FILE": str(self.server_key),
            "CASEBOOK_TLS_CLIENT_CA_FILE": str(self.ca),
            "CASEBOOK_JWT_PUBLIC_KEY_FILE": str(self.jwt_public),
            "CASEBOOK_JWT_ISSUER": ISSUER,
            "CASEBOOK_JWT_AUDIENCE": AUDIENCE,
            "CASEBOOK_CIPHER_KEY": TEST_CIPHER_KEY,
        }

    # ------------------------------------------------------------------- client side
    def credentials(self, *, client_cert: bool = True, other: bool = False) -> Any:
        """TLS trusting the bank CA; with the bank's client certificate, or another CA's."""
        cert, key = (
            (self.other_cert, self.other_key)
            if other
            else (
                self.client_cert,
                self.client_key,
            )
        )
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=key.read_bytes() if client_cert else None,
            certificate_chain=cert.read_bytes() if client_cert else None,
        )

    def token(
        self,
        subject: str,
        *roles: str,
        expires_in: float = 300,
        key: Any = None,
        algorithm: str = "EdDSA",
        **claims: Any,
    ) -> str:
        payload: dict[str, Any] = {
            "sub": subject,
            "roles": list(roles),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(time.time()),
            "exp": int(time.time() + expires_in),
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.issuer_key, algorithm=algorithm)

    def unsigned_token(self, subject: str, *roles: str) -> str:
        """alg "none": a token that claims it needs no signature."""
        return _compact({"alg": "none", "typ": "JWT"}, self._claims(subject, roles), b"")

    def hs256_token_keyed_with_public_key(self, subject: str, *roles: str) -> str:
        """The classic algorithm confusion: HMAC with the issuer's public key as secret."""
        header, claims = {"alg": "HS256", "typ": "JWT"}, self._claims(subject, roles)
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        mac = hmac.new(self.jwt_public.read_bytes(), signing_input.encode(), hashlib.sha256)
        return f"{signing_input}.{_b64(mac.digest())}"

    def _claims(self, subject: str, roles: tuple[str, ...]) -> dict[str, Any]:
        return {
            "sub": subject,
            "roles": list(roles),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": int(time.time() + 300),
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature))
    )


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)
