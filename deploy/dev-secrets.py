"""Make every secret deploy/docker-compose.yml mounts, for local use only:

    .venv/bin/python deploy/dev-secrets.py            # into deploy/secrets/ (git-ignored)
    .venv/bin/python deploy/dev-secrets.py --kubectl  # and print `kubectl create secret`s

- a dev CA (`ca.pem`; `ca.key` stays here and signs nothing but these);
- a certificate and key per service (`case.pem`/`.key`, `notify.pem`/`.key`) naming the compose
  and Kubernetes service names, localhost and 127.0.0.1, good for serverAuth and clientAuth:
  notify presents its own to the case service (mutual TLS), and each health probe presents
  its server's;
- `client.pem`/`.key` for you (grpcurl), signed by the same CA;
- the token issuer's Ed25519 key (`jwt-issuer.key`, never mounted) and its public half
  (`jwt-issuer.pub.pem`, what the services verify with); `notify.token` (role notify) and
  `supervisor.token` (for you), valid for a year;
- `cipher.key` (personal data at rest), `ledger.pem` (signs ledger digests);
- `postgres-password` and `case-db.env` / `notify-db.env` (the database URLs holding it).

Files already there are kept (a new cipher key would make the data already stored unreadable),
so running it again only fills in what is missing; `--force` makes everything anew (then
`docker compose -f deploy/docker-compose.yml down -v` too). The directory is 0700; the files in
it are 0644 so that the containers' user (uid 10001) can read them through the bind mounts,
while nobody else on this machine can reach them.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eventsourcing.cryptography import AESCipher

DEPLOY = Path(__file__).resolve().parent
DEFAULT_OUT = DEPLOY / "secrets"
VALID_DAYS = 365
ISSUER = "https://dev-issuer.casebook.invalid"  # what docker-compose.yml sets as the issuer
AUDIENCE = "casebook"
K8S_NAMESPACE = "casebook"
DB_USER = "casebook"  # POSTGRES_USER in docker-compose.yml

# Every name a client may use for each service: compose, Kubernetes (deploy/k8s), this host.
SERVICE_NAMES = {
    "case": ["case", "casebook-case", f"casebook-case.{K8S_NAMESPACE}.svc",
             f"casebook-case.{K8S_NAMESPACE}.svc.cluster.local", "localhost"],
    "notify": ["notify", "casebook-notify", f"casebook-notify.{K8S_NAMESPACE}.svc",
               f"casebook-notify.{K8S_NAMESPACE}.svc.cluster.local", "localhost"],
}  # fmt: skip

# The Secrets deploy/k8s references: name -> (type, {key: file made here}). The database
# URLs are not made here: a cluster has its own PostgreSQL (see --kubectl).
K8S_SECRETS: dict[str, tuple[str, dict[str, str]]] = {
    "casebook-ca": ("generic", {"ca.pem": "ca.pem"}),
    "casebook-case-tls": ("tls", {"tls.crt": "case.pem", "tls.key": "case.key"}),
    "casebook-notify-tls": ("tls", {"tls.crt": "notify.pem", "tls.key": "notify.key"}),
    "casebook-jwt-public-key": ("generic", {"public.pem": "jwt-issuer.pub.pem"}),
    "casebook-cipher-key": ("generic", {"cipher.key": "cipher.key"}),
    "casebook-ledger-key": ("generic", {"ledger.pem": "ledger.pem"}),
    "casebook-notify-token": ("generic", {"token": "notify.token"}),
}
K8S_DATABASE_SECRETS = {
    "casebook-case-db": "casebook_case",
    "casebook-notify-db": "casebook_notify",
}


def _pem_private(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Maker:
    """Writes each group of files once and remembers what it made and what it kept."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.made: list[str] = []
        self.kept: list[str] = []

    def once(
        self,
        names: tuple[str, ...],
        make: Callable[[], tuple[bytes, ...]],
        renew: bool = False,
        mounted: bool = True,
    ) -> bool:
        """Make `names` when one is missing or `renew`; True when they were made. Files no
        container mounts (the CA's and the issuer's keys, yours) are for their owner only."""
        if not renew and all((self.out / name).exists() for name in names):
            self.kept.extend(names)
            return False
        for name, data in zip(names, make(), strict=True):
            path = self.out / name
            path.write_bytes(data)
            # Mounted ones readable by the containers' uid; the directory keeps others out.
            path.chmod(0o644 if mounted else 0o600)
            self.made.append(name)
        return True


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    names: Sequence[str] = (),
) -> x509.Certificate:
    """A CA when `issuer` is None (self-signed), else a leaf for server and client use."""
    now = datetime.now(UTC)
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(subject) if is_ca else issuer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS + (30 if is_ca else 0)))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if names:
            sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
            sans.append(x509.IPAddress(ip_address("127.0.0.1")))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key if is_ca else issuer[1], hashes.SHA256())


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _token(issuer_key: ed25519.Ed25519PrivateKey, subject: str, role: str) -> bytes:
    now = int(time.time())
    claims = {
        "sub": subject,
        "roles": [role],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + VALID_DAYS * 86400,
    }
    return jwt.encode(claims, issuer_key, algorithm="EdDSA").encode() + b"\n"


def make_all(out: Path) -> Maker:
    """Everything missing from `out`; what depends on a file made anew is made anew too."""
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    maker = Maker(out)

    def ca() -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        return _cert_pem(_certificate("casebook dev CA", key, None)), _pem_private(key)

    new_ca = maker.once(("ca.pem", "ca.key"), ca)
    (out / "ca.key").chmod(0o600)  # ca.pem is mounted, its key never
    authority = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    authority_key = serialization.load_pem_private_key((out / "ca.key").read_bytes(), None)
    assert isinstance(authority_key, ec.EllipticCurvePrivateKey)
    signer = (authority.subject, authority_key)

    def leaf(subject: str, names: list[str]) -> Callable[[], tuple[bytes, bytes]]:
        def make() -> tuple[bytes, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            return _cert_pem(_certificate(subject, key, signer, names)), _pem_private(key)

        return make

    # Certificates of an earlier CA would not verify any more: a new CA means new leaves.
    for service, names in SERVICE_NAMES.items():
        files = (f"{service}.pem", f"{service}.key")
        maker.once(files, leaf(f"casebook-{service}", names), renew=new_ca)
    maker.once(("client.pem", "client.key"), leaf("dev-client", []), new_ca, mounted=False)

    def issuer() -> tuple[bytes, bytes]:
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _pem_private(key), public

    new_issuer = maker.once(("jwt-issuer.key", "jwt-issuer.pub.pem"), issuer)
    (out / "jwt-issuer.key").chmod(0o600)  # the public half is mounted, this never
    issuer_key = serialization.load_pem_private_key((out / "jwt-issuer.key").read_bytes(), None)
    assert isinstance(issuer_key, ed25519.Ed25519PrivateKey)
    # Likewise tokens signed by an earlier issuer key.
    maker.once(
        ("notify.token",), lambda: (_token(issuer_key, "notify", "notify"),), renew=new_issuer
    )
    maker.once(
        ("supervisor.token",),
        lambda: (_token(issuer_key, "dev-supervisor", "supervisor"),),
        renew=new_issuer,
        mounted=False,
    )

    maker.once(("cipher.key",), lambda: ((AESCipher.create_key(32) + "\n").encode(),))
    maker.once(("ledger.pem",), lambda: (_pem_private(ed25519.Ed25519PrivateKey.generate()),))

    new_password = maker.once(
        ("postgres-password",), lambda: (secrets.token_urlsafe(24).encode() + b"\n",)
    )
    password = (out / "postgres-password").read_text().strip()

    def database_urls() -> tuple[bytes, bytes]:
        # Read by `docker compose` itself (env_file), not mounted into a container.
        url = f"postgresql+psycopg://{DB_USER}:{password}@postgres:5432"
        return (
            f"CASEBOOK_CASE_DB_URL={url}/casebook_case\n".encode(),
            f"CASEBOOK_NOTIFY_DB_URL={url}/casebook_notify\n".encode(),
        )

    maker.once(("case-db.env", "notify-db.env"), database_urls, new_password, mounted=False)
    return maker


def kubectl_commands(out: Path) -> list[str]:
    """`kubectl create secret` for every Secret deploy/k8s references, from these files."""
    commands = []
    for name, (kind, keys) in K8S_SECRETS.items():
        if kind == "tls":
            files = f"--cert={out / keys['tls.crt']} --key={out / keys['tls.key']}"
        else:
            files = " ".join(f"--from-file={key}={out / file}" for key, file in keys.items())
        commands.append(f"kubectl -n {K8S_NAMESPACE} create secret {kind} {name} {files}")
    for name, database in K8S_DATABASE_SECRETS.items():
        url = f"postgresql+psycopg://{DB_USER}:PASSWORD@YOUR-POSTGRES:5432/{database}"
        commands.append(
            f"kubectl -n {K8S_NAMESPACE} create secret generic {name} --from-literal=url='{url}'"
        )
    return commands


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--out", type=Path, default=DEFAULT_OUT)
    arguments.add_argument("--force", action="store_true", help="make everything anew")
    arguments.add_argument(
        "--kubectl", action="store_true", help="print kubectl commands creating the Secrets"
    )
    args = arguments.parse_args(argv)
    if args.force and args.out.exists():
        shutil.rmtree(args.out)
    maker = make_all(args.out)
    print(f"{args.out}: made {len(maker.made)} files, kept {len(maker.kept)}", file=sys.stderr)
    if args.kubectl:
        print("\n".join(kubectl_commands(args.out)))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
