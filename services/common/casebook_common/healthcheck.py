"""`python -m casebook_common.healthcheck [--address host:port] [--service NAME]`: ask a
casebook server's standard gRPC health service (grpc.health.v1) whether it is SERVING, for
the image's HEALTHCHECK and the Kubernetes probes. Exit 0 when SERVING, 1 otherwise (not
serving, unreachable, handshake refused, too slow), with one line on stdout either way.

It reads the server's own variables, so the same environment probes a plain, TLS or
mutual-TLS server:
- CASEBOOK_TLS_CERT_FILE set: TLS. The probe runs next to the server it checks, so it trusts
  that very certificate (pinned; no CA needed) and checks the name written in it.
- CASEBOOK_TLS_CLIENT_CA_FILE set too (mutual TLS): it presents a client certificate, by
  default the server's own certificate and key, which must then allow client authentication
  (extended key usage clientAuth, as deploy/dev-secrets.py issues them); `--cert-file` and
  `--key-file` name another.
Health is open without a token (casebook_common.security.HEALTH_SERVICE): none is sent.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Probe:
    address: str
    service: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    cert_file: str = ""  # the server's certificate: TLS when set, pinned as the trust root
    client_cert_file: str = ""  # presented for mutual TLS
    client_key_file: str = ""
    ca_file: str = ""  # trust this instead of pinning the server's certificate


def probe_from(args: argparse.Namespace, env: Mapping[str, str]) -> Probe:
    def variable(name: str) -> str:
        return env.get(name, "").strip()

    cert, key = variable("CASEBOOK_TLS_CERT_FILE"), variable("CASEBOOK_TLS_KEY_FILE")
    mutual = bool(cert and variable("CASEBOOK_TLS_CLIENT_CA_FILE"))
    return Probe(
        address=args.address,
        service=args.service,
        timeout=args.timeout,
        cert_file=cert,
        client_cert_file=(args.cert_file or cert) if mutual else "",
        client_key_file=(args.key_file or key) if mutual else "",
        ca_file=args.ca_file,
    )


def certificate_name(cert_file: str) -> str:
    """The name to check the server's certificate against: its first DNS name, else its
    first IP address, else its common name."""
    certificate = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())[0]
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = None
    if names is not None:
        for kind in (x509.DNSName, x509.IPAddress):
            found = names.get_values_for_type(kind)  # type: ignore[type-var]
            if found:
                return str(found[0])
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else ""


def check(probe: Probe) -> tuple[bool, str]:
    """(serving, the line to print)."""
    # Imported here, after main() has quietened gRPC's C core (it would log a failed
    # handshake to stderr in lines of its own).
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    where = f"{probe.address} service={probe.service or '(server)'}"
    try:
        if probe.cert_file:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=Path(probe.ca_file or probe.cert_file).read_bytes(),
                private_key=_optional(probe.client_key_file),
                certificate_chain=_optional(probe.client_cert_file),
            )
            name = certificate_name(probe.cert_file)
            options = [("grpc.ssl_target_name_override", name)] if name else []
            channel = grpc.secure_channel(probe.address, credentials, options=options)
        else:
            channel = grpc.insecure_channel(probe.address)
    except (OSError, ValueError) as error:
        return False, f"UNCHECKED {where}: cannot read the TLS files: {_one_line(error)}"
    with channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=probe.service), timeout=probe.timeout
            )
        except grpc.RpcError as error:
            code = error.code().name if error.code() else "UNKNOWN"
            return False, f"UNHEALTHY {where}: {code}: {_one_line(error.details() or '')}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return response.status == health_pb2.HealthCheckResponse.SERVING, f"{status} {where}"


def _optional(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


def _address(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    return text


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(
        prog="python -m casebook_common.healthcheck",
        description="Exit 0 when the casebook server at --address is SERVING, else 1.",
    )
    arguments.add_argument("--address", type=_address, default=DEFAULT_ADDRESS)
    arguments.add_argument("--service", default="", help="a service name; default the server")
    arguments.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)
    arguments.add_argument("--cert-file", default="", help="client certificate for mutual TLS")
    arguments.add_argument("--key-file", default="", help="its private key")
    arguments.add_argument(
        "--ca-file", default="", help="trust this CA instead of the server's own certificate"
    )
    return arguments


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    probe = probe_from(parser().parse_args(argv), env)
    serving, line = check(probe)
    print(line, flush=True)
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
