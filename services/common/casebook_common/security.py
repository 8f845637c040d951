"""Transport security, authentication and authorization shared by both services.

- `SecurityConfig`: TLS / mutual TLS certificate paths, the token verification key, issuer,
  audience and the mode (production or development), read from CASEBOOK_* variables.
- `TokenVerifier`: checks a bearer token (JWT) against the configured public key and turns it
  into a `Principal` (subject + roles).
- `AuthorizationTable`: which roles may call which RPC of one service (deny by default).
- `AuthInterceptor`: the aio server interceptor that authenticates and authorizes every call
  before the servicer sees it, and puts the principal in a contextvar for the servicer
  (`current_principal()`; contextvars follow calls into `asyncio.to_thread`).
- The client side: channel credentials and a bearer token read from a file that may be
  rotated (`TokenFile`, `BearerTokenInterceptor`).

Nothing here logs or returns a token or any part of one.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# ------------------------------------------------------------------------------------ roles
AGENT = "agent"  # a collector working cases
SUPERVISOR = "supervisor"  # approves, writes off, oversees
AUDITOR = "auditor"  # reads, never writes
SYSTEM = "system"  # another bank system (core banking, payment files, dialer, letters)
NOTIFY = "notify"  # the notify service calling the case service
ROLES = frozenset({AGENT, SUPERVISOR, AUDITOR, SYSTEM, NOTIFY})

ERROR_DOMAIN = "casebook.v1"
LEEWAY_SECONDS = 30  # clock skew tolerated between the token issuer and this service
MAX_SUBJECT_LENGTH = 128
# Always open: Kubernetes and load balancers probe health without credentials.
HEALTH_SERVICE = "grpc.health.v1.Health"
# Reflection describes the API (whose protos are public anyway) but answers only callers with
# a valid token, whatever their roles: an anonymous scanner learns nothing about the service.
REFLECTION_SERVICES = frozenset(
    {"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)

log = structlog.get_logger("casebook.rpc")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the verified token says: `subject` is stored as every event's actor."""

    subject: str
    roles: frozenset[str]


_PRINCIPAL: ContextVar[Principal | None] = ContextVar("casebook_principal", default=None)


def current_principal() -> Principal | None:
    """The authenticated caller of the call being served, or None when authentication is off."""
    return _PRINCIPAL.get()


# ----------------------------------------------------------------------------------- errors
class AuthError(Exception):
    """A refused call: UNAUTHENTICATED or PERMISSION_DENIED with a google.rpc.ErrorInfo.
    Messages name what is wrong, never what the token contained."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})

    def status(self) -> grpc.Status:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ErrorInfo(
                reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
            )
        )
        return rpc_status.to_status(
            status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])
        )


def unauthenticated(reason: str, message: str, problem: str = "") -> AuthError:
    return AuthError(
        grpc.StatusCode.UNAUTHENTICATED, reason, message, {"problem": problem} if problem else {}
    )


# ------------------------------------------------------------------------ key and cert files
class SecurityConfigError(ValueError):
    """A security setting that cannot work; each service reports it as its ConfigError."""


def _read(path: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SecurityConfigError(f"{variable}: cannot read {path}: {error.strerror}") from None


def load_certificates(path: str, variable: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(_read(path, variable))
    except ValueError:
        raise SecurityConfigError(f"{variable}: {path} holds no PEM certificate") from None
    return certificates


def _private_key(path: str, variable: str) -> Any:
    try:
        return serialization.load_pem_private_key(_read(path, variable), password=None)
    except (ValueError, TypeError):
        raise SecurityConfigError(
            f"{variable}: {path} is not an unencrypted PEM private key"
        ) from None


def _raw_public(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key_pair(cert_file: str, key_file: str, cert_variable: str, key_variable: str) -> None:
    """Both readable, and the key is the certificate's: caught at start, not at handshake."""
    leaf = load_certificates(cert_file, cert_variable)[0]
    key = _private_key(key_file, key_variable)
    if _raw_public(leaf.public_key()) != _raw_public(key.public_key()):
        raise SecurityConfigError(
            f"{key_variable}: the key in {key_file} is not the key of the certificate in "
            f"{cert_file}"
        )


def server_credentials(cert_file: str, key_file: str, client_ca_file: str = "") -> Any:
    """TLS for a server; with `client_ca_file`, mutual TLS: a client must present a
    certificate signed by that CA or the handshake fails."""
    return grpc.ssl_server_credentials(
        [(Path(key_file).read_bytes(), Path(cert_file).read_bytes())],
        root_certificates=Path(client_ca_file).read_bytes() if client_ca_file else None,
        require_client_auth=bool(client_ca_file),
    )


def channel_credentials(ca_file: str = "", cert_file: str = "", key_file: str = "") -> Any:
    """TLS for a client: trust `ca_file` (default: the system's roots) and, for mutual TLS,
    present `cert_file`/`key_file`."""
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca_file).read_bytes() if ca_file else None,
        private_key=Path(key_file).read_bytes() if key_file else None,
        certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
    )


# ----------------------------------------------------------------------------------- tokens
def _algorithm_for(key: Any) -> str:
    """One algorithm per key, fixed by the key's type: a token cannot choose its own check
    ("none", or HS256 with the public key as the shared secret, are never accepted)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise SecurityConfigError("an RSA token key must have at least 2048 bits")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise SecurityConfigError("token keys must be Ed25519, RSA (RS256) or EC P-256 (ES256)")


_PEM_PUBLIC = b"-----BEGIN PUBLIC KEY-----"


def load_verification_keys(path: str, variable: str) -> list[tuple[str, Any]]:
    """Every PEM public key in the file, with its algorithm. More than one key lets the
    issuer rotate: publish the new key next to the old, switch, then drop the old one."""
    data = _read(path, variable)
    if b"PRIVATE KEY-----" in data:
        raise SecurityConfigError(
            f"{variable}: {path} holds a private key; give this service the public key only"
        )
    keys = []
    for block in data.split(_PEM_PUBLIC)[1:]:
        pem = (
            _PEM_PUBLIC + block.split(b"-----END PUBLIC KEY-----")[0] + b"-----END PUBLIC KEY-----"
        )
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise SecurityConfigError(f"{variable}: {path} holds an unreadable key") from None
        try:
            keys.append((_algorithm_for(key), key))
        except SecurityConfigError as error:
            raise SecurityConfigError(f"{variable}: {error}") from None
    if not keys:
        raise SecurityConfigError(f"{variable}: {path} holds no PEM public key")
    return keys


class TokenVerifier:
    """Bearer tokens: signature by a configured key, `exp` required (30 s leeway), `iss` and
    `aud` checked when configured, `sub` a non-empty string, `roles` a list of role names
    (unknown names are ignored: an issuer may serve other applications too)."""

    def __init__(
        self,
        keys: Sequence[tuple[str, Any]],
        issuer: str = "",
        audience: str = "",
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        self.keys = list(keys)
        self.algorithms = sorted({algorithm for algorithm, _ in self.keys})
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway

    @classmethod
    def from_config(cls, config: SecurityConfig) -> TokenVerifier:
        return cls(
            load_verification_keys(config.jwt_public_key_file, "CASEBOOK_JWT_PUBLIC_KEY_FILE"),
            issuer=config.jwt_issuer,
            audience=config.jwt_audience,
        )

    def authenticate(self, metadata: Iterable[tuple[str, Any]]) -> Principal:
        """The principal of the `authorization: Bearer <token>` metadata, or AuthError."""
        values = [str(v) for k, v in metadata if k.lower() == "authorization"]
        if not values:
            raise unauthenticated(
                "TOKEN_MISSING", "a bearer token is required (authorization: Bearer <token>)"
            )
        if len(values) > 1:
            raise unauthenticated("TOKEN_INVALID", "more than one authorization header", "header")
        scheme, _, token = values[0].strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated(
                "TOKEN_INVALID", "the authorization header must be 'Bearer <token>'", "header"
            )
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise unauthenticated(
                "TOKEN_INVALID", "the bearer token is malformed", "malformed"
            ) from None
        candidates = [key for alg, key in self.keys if alg == algorithm]
        if not candidates:
            raise unauthenticated(
                "TOKEN_INVALID",
                f"the bearer token must be signed with {', '.join(self.algorithms)}",
                "algorithm",
            )
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    issuer=self.issuer or None,
                    audience=self.audience or None,
                    leeway=self.leeway,
                    options={
                        "require": ["exp", "sub"],
                        # Without a configured audience, tokens carrying one are accepted.
                        "verify_aud": bool(self.audience),
                    },
                )
            except jwt.InvalidSignatureError:
                continue  # perhaps the next key (rotation)
            except jwt.PyJWTError as error:
                raise _token_error(error) from None
            return _principal(claims)
        raise unauthenticated(
            "TOKEN_INVALID", "the bearer token's signature does not verify", "signature"
        )


def _token_error(error: jwt.PyJWTError) -> AuthError:
    if isinstance(error, jwt.ExpiredSignatureError):
        return unauthenticated("TOKEN_EXPIRED", "the bearer token has expired", "expired")
    if isinstance(error, jwt.InvalidIssuerError) or (
        isinstance(error, jwt.MissingRequiredClaimError) and error.claim == "iss"
    ):
        return unauthenticated(
            "TOKEN_INVALID", "the bearer token's issuer is not accepted", "issuer"
        )
    if isinstance(error, jwt.InvalidAudienceError) or (
        isinstance(error, jwt.MissingRequiredClaimError) and error.claim == "aud"
    ):
        return unauthenticated(
            "TOKEN_INVALID", "the bearer token is not meant for this service", "audience"
        )
    if isinstance(error, jwt.ImmatureSignatureError):
        return unauthenticated(
            "TOKEN_INVALID", "the bearer token is not valid yet", "not_yet_valid"
        )
    if isinstance(error, jwt.MissingRequiredClaimError):
        return unauthenticated(
            "TOKEN_INVALID", f"the bearer token has no '{error.claim}' claim", "claims"
        )
    return unauthenticated("TOKEN_INVALID", "the bearer token is not valid", "malformed")


def _principal(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
        raise unauthenticated(
            "TOKEN_INVALID",
            f"the bearer token's 'sub' must be 1 to {MAX_SUBJECT_LENGTH} characters",
            "claims",
        )
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise unauthenticated(
            "TOKEN_INVALID", "the bearer token's 'roles' must be a list of names", "claims"
        )
    return Principal(subject.strip(), frozenset(roles) & ROLES)


# ---------------------------------------------------------------------------- authorization
@dataclass(frozen=True)
class Narrowing:
    """A request-dependent rule: for requests matching `when`, only `roles` may call."""

    when: str  # what the request looks like, in words (shown to a refused caller)
    applies: Callable[[Any], bool]
    roles: frozenset[str]


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    narrowings: tuple[Narrowing, ...] = ()

    def roles_for(self, request: Any) -> tuple[frozenset[str], str]:
        """The roles that may make this particular request, and the condition that narrowed
        them ("" when none did). Client-streaming requests (None) are judged on the method."""
        for narrowing in self.narrowings:
            if request is not None and _matches(narrowing, request):
                return self.roles & narrowing.roles, narrowing.when
        return self.roles, ""


def _matches(narrowing: Narrowing, request: Any) -> bool:
    """A request the rule cannot read (a body that did not decode) gets the narrower rule."""
    try:
        return bool(narrowing.applies(request))
    except Exception:
        return True


def allow(*roles: str, narrowed: Sequence[Narrowing] = ()) -> Rule:
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Rule(frozenset(roles), tuple(narrowed))


def only(roles: Iterable[str], when: str, applies: Callable[[Any], bool]) -> Narrowing:
    return Narrowing(when, applies, frozenset(roles))


@dataclass(frozen=True)
class AuthorizationTable:
    """One service's rules, by RPC name. An RPC without a row is refused to everyone."""

    service: str  # full name, e.g. casebook.v1.CaseService
    rows: Mapping[str, Rule] = field(default_factory=dict)

    def check(self, method: str, principal: Principal, request: Any) -> None:
        rule = self.rows.get(method)
        full = f"/{self.service}/{method}"
        if rule is None:
            raise AuthError(
                grpc.StatusCode.PERMISSION_DENIED,
                "NO_AUTHORIZATION_RULE",
                f"{method} is not open to any role",
                {"method": full, "allowed_roles": ""},
            )
        allowed, condition = rule.roles_for(request)
        if principal.roles & allowed:
            return
        what = f"{method} with {condition}" if condition else method
        names = ", ".join(sorted(allowed)) or "no role"
        metadata = {"method": full, "allowed_roles": ",".join(sorted(allowed))}
        if condition:
            metadata["condition"] = condition
        raise AuthError(
            grpc.StatusCode.PERMISSION_DENIED,
            "ROLE_NOT_ALLOWED",
            f"{what} is for {names}",
            metadata,
        )


# ------------------------------------------------------------------------- the interceptor
class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call (health excepted) and authorizes it against the service's
    table before the servicer runs; a refused call is logged like any other call (method,
    ids, actor, status) and answered with ErrorInfo. The request is read first, so rules can
    look at its content."""

    def __init__(self, verifier: TokenVerifier, tables: Sequence[AuthorizationTable]) -> None:
        self.verifier = verifier
        self.tables = {table.service: table for table in tables}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        if handler is None or service == HEALTH_SERVICE:
            return handler
        table = self.tables.get(service)

        async def guard(request: Any, context: grpc.aio.ServicerContext) -> None:
            started = time.perf_counter()
            metadata = tuple(context.invocation_metadata() or ())
            principal = None
            try:
                principal = self.verifier.authenticate(metadata)
                if service not in REFLECTION_SERVICES:
                    # A service nobody wrote rules for is open to nobody.
                    (table or AuthorizationTable(service)).check(method, principal, request)
            except AuthError as error:
                _log_refusal(method, request, metadata, principal, error, started)
                await context.abort(error.code, error.message, error.status().trailing_metadata)
            _PRINCIPAL.set(principal)

        return _guarded(handler, guard)


def _log_refusal(
    method: str,
    request: Any,
    metadata: Sequence[tuple[str, Any]],
    principal: Principal | None,
    error: AuthError,
    started: float,
) -> None:
    """The per-call line every call gets (same fields as a served call), for a refused one."""
    headers = dict(metadata)
    case_id = getattr(request, "case_id", "") or getattr(
        getattr(request, "filter", None), "case_id", ""
    )
    log.info(
        "rpc",
        method=method,
        request_id=getattr(request, "request_id", "") or str(headers.get("x-request-id", "")),
        case_id=case_id,
        actor=principal.subject if principal else "anonymous",
        status=error.code.name,
        reason=error.reason,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _guarded(handler: Any, guard: Callable[[Any, Any], Any]) -> Any:
    """The same handler with `guard` run first (in the call's own task, so the principal it
    sets is what the servicer sees)."""
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        inner = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            await guard(None, context)
            async for item in _as_stream(inner(requests, context)):
                yield item

        return grpc.stream_stream_rpc_method_handler(stream_stream, **codec)
    if handler.request_streaming:
        inner = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            await guard(None, context)
            return await inner(requests, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **codec)
    if handler.response_streaming:
        inner = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await guard(request, context)
            async for item in _as_stream(inner(request, context)):
                yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, **codec)
    inner = handler.unary_unary

    async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await guard(request, context)
        return await inner(request, context)

    return grpc.unary_unary_rpc_method_handler(unary_unary, **codec)


async def _as_stream(result: Any) -> AsyncIterator[Any]:
    """A streaming handler is an async generator, or a coroutine writing with context.write."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result


# -------------------------------------------------------------------------- configuration
MODES = ("development", "production")
_LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(listen: str) -> bool:
    """Whether a host:port listen address accepts connections from this machine only."""
    host = listen.rsplit(":", 1)[0].strip().strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "", "0.0.0.0"-like names or any other host name: not provably local


@dataclass(frozen=True)
class SecurityConfig:
    """CASEBOOK_MODE, CASEBOOK_TLS_* and CASEBOOK_JWT_* (both services read the same names)."""

    mode: str = "development"
    tls_cert_file: str = ""  # server certificate (PEM, may include the chain)
    tls_key_file: str = ""  # its private key (PEM)
    tls_client_ca_file: str = ""  # when set, mutual TLS: clients need a cert signed by it
    jwt_public_key_file: str = ""  # when set, every call needs a bearer token it verifies
    jwt_issuer: str = ""
    jwt_audience: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file and self.tls_key_file)

    @property
    def mutual_tls(self) -> bool:
        return self.tls and bool(self.tls_client_ca_file)

    @property
    def auth(self) -> bool:
        return bool(self.jwt_public_key_file)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SecurityConfig:
        def text(name: str) -> str:
            return env.get(name, "").strip()

        config = cls(
            mode=text("CASEBOOK_MODE").lower() or "development",
            tls_cert_file=text("CASEBOOK_TLS_CERT_FILE"),
            tls_key_file=text("CASEBOOK_TLS_KEY_FILE"),
            tls_client_ca_file=text("CASEBOOK_TLS_CLIENT_CA_FILE"),
            jwt_public_key_file=text("CASEBOOK_JWT_PUBLIC_KEY_FILE"),
            jwt_issuer=text("CASEBOOK_JWT_ISSUER"),
            jwt_audience=text("CASEBOOK_JWT_AUDIENCE"),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Every configured file readable and what it should be, now rather than at the
        first handshake or call."""
        if self.mode not in MODES:
            raise SecurityConfigError("CASEBOOK_MODE must be production or development")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise SecurityConfigError(
                "set both CASEBOOK_TLS_CERT_FILE and CASEBOOK_TLS_KEY_FILE, or neither"
            )
        if self.tls:
            check_key_pair(
                self.tls_cert_file,
                self.tls_key_file,
                "CASEBOOK_TLS_CERT_FILE",
                "CASEBOOK_TLS_KEY_FILE",
            )
        if self.tls_client_ca_file:
            if not self.tls:
                raise SecurityConfigError(
                    "CASEBOOK_TLS_CLIENT_CA_FILE (mutual TLS) needs CASEBOOK_TLS_CERT_FILE "
                    "and CASEBOOK_TLS_KEY_FILE"
                )
            load_certificates(self.tls_client_ca_file, "CASEBOOK_TLS_CLIENT_CA_FILE")
        if self.auth:
            load_verification_keys(self.jwt_public_key_file, "CASEBOOK_JWT_PUBLIC_KEY_FILE")
        elif self.jwt_issuer or self.jwt_audience:
            raise SecurityConfigError(
                "CASEBOOK_JWT_ISSUER / CASEBOOK_JWT_AUDIENCE need CASEBOOK_JWT_PUBLIC_KEY_FILE"
            )

    def production_problems(self) -> list[str]:
        """What production mode needs and this configuration lacks (empty: nothing)."""
        problems = []
        if not self.tls:
            problems.append("no TLS (CASEBOOK_TLS_CERT_FILE, CASEBOOK_TLS_KEY_FILE)")
        if not self.auth:
            problems.append("no token verification key (CASEBOOK_JWT_PUBLIC_KEY_FILE)")
        return problems

    def insecure_parts(self) -> list[str]:
        parts = []
        if not self.tls:
            parts.append("no TLS")
        if not self.auth:
            parts.append("no authentication")
        return parts

    def check_listen(self, variable: str, listen: str) -> None:
        """Development mode without TLS or authentication serves this machine only."""
        if self.insecure_parts() and not is_loopback(listen):
            raise SecurityConfigError(
                f"{variable}={listen}: without TLS and authentication "
                f"({', '.join(self.insecure_parts())}) the service listens on loopback only "
                "(127.0.0.1, ::1, localhost)"
            )

    def check_start(self, listen_variable: str, listen: str, problems: Sequence[str]) -> None:
        """Production refuses to start while anything it needs is missing (`problems`: this
        configuration's and the service's own); development without TLS and authentication
        serves loopback only."""
        if self.mode == "production" and problems:
            raise SecurityConfigError("production mode refuses to start: " + "; ".join(problems))
        self.check_listen(listen_variable, listen)

    def server_credentials(self) -> Any:
        if not self.tls:
            return None
        return server_credentials(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)

    def interceptors(self, *tables: AuthorizationTable) -> list[grpc.aio.ServerInterceptor]:
        return [AuthInterceptor(TokenVerifier.from_config(self), tables)] if self.auth else []


def announce_insecure_mode(program: str, logger: Any, config: SecurityConfig, listen: str) -> None:
    """Say loudly, on stderr and in the log, that this process trusts every local caller."""
    parts = config.insecure_parts()
    if not parts:
        return
    line = "!" * 78
    print(
        f"{line}\n"
        f"!! {program}: DEVELOPMENT MODE - {', '.join(parts).upper()}\n"
        f"!! listening on {listen} (loopback only). Callers are not authenticated: any local\n"
        f"!! process can read and change cases and names itself in x-casebook-actor.\n"
        f"!! Never use real debtors' data like this; production needs CASEBOOK_MODE=production\n"
        f"!! with TLS and CASEBOOK_JWT_PUBLIC_KEY_FILE (see README, Security).\n"
        f"{line}",
        file=sys.stderr,
        flush=True,
    )
    logger.warning("insecure_development_mode", missing=parts, listen=listen)


# ----------------------------------------------------------------------------- client side
class TokenFile:
    """A bearer token kept in a file (a mounted secret): read again whenever the file
    changes, so the token can be rotated without a restart."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._token = ""

    def token(self) -> str:
        try:
            stat = os.stat(self.path)
        except OSError:
            return self._token  # mid-rotation (file replaced): keep the last one read
        seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if seen != self._seen:
            try:
                self._token = Path(self.path).read_text().strip()
                self._seen = seen
            except OSError:
                pass
        return self._token


class _BearerToken:
    """Adds `authorization: Bearer <token>` to the calls it intercepts."""

    def __init__(self, source: TokenFile) -> None:
        self.source = source

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        token = self.source.token()
        if not token:
            return details  # the server answers TOKEN_MISSING, which the caller logs
        metadata = [(k, v) for k, v in (details.metadata or ()) if k.lower() != "authorization"]
        metadata.append(("authorization", f"Bearer {token}"))
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*metadata),
            details.credentials,
            details.wait_for_ready,
        )


class _UnaryUnaryBearer(_BearerToken, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _UnaryStreamBearer(_BearerToken, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


def bearer_token_interceptors(source: TokenFile) -> list[grpc.aio.ClientInterceptor]:
    """For an aio channel: the token on every unary and server-streaming call. (One object
    per kind: an aio channel files each interceptor under the first kind it is.)"""
    return [_UnaryUnaryBearer(source), _UnaryStreamBearer(source)]
