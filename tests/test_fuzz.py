"""Every RPC of both services, sent random bytes and random well-formed messages: the servers
stay up, a client's mistake is never INTERNAL/UNKNOWN, and a rejected call writes nothing
(except the ContactRefused record the conduct rules keep of a refused contact).

Random but reproducible: each test draws from a fixed seed, printed on failure."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass as message_class
from google.protobuf.timestamp_pb2 import Timestamp

from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import notify_service_pb2 as nsvc
from tests.notify import harness
from tests.support import open_case

stack = harness.stack

SEED = 20261123
CLIENT_ERRORS_ONLY = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
CASE_SERVICE = svc.DESCRIPTOR.services_by_name["CaseService"]
NOTIFY_SERVICE = nsvc.DESCRIPTOR.services_by_name["NotifyService"]
NOISE = ["", " ", "\x00", "é中文🙂", "'; DROP TABLE casebook_events; --", "a" * 3000, "%s%n"]


class RandomMessages:
    """Well-formed messages with wild values: real case ids mixed with junk, enum numbers
    beyond the enum, times far away, long and odd strings."""

    def __init__(self, rng: random.Random, case_ids: list[str]) -> None:
        self.rng = rng
        self.case_ids = case_ids

    def message(self, descriptor: Descriptor, depth: int = 0) -> Message:
        message = message_class(descriptor)()
        for field in descriptor.fields:
            if self.rng.random() < 0.3:
                continue  # left unset
            if field.is_repeated:
                for _ in range(self.rng.randint(0, 3)):
                    self._add(message, field, depth)
            else:
                self._set(message, field, depth)
        return message

    def _value(self, field: FieldDescriptor) -> Any:
        rng = self.rng
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            if field.name.endswith("case_id") and self.case_ids and rng.random() < 0.6:
                return rng.choice(self.case_ids)
            if rng.random() < 0.3:
                return str(uuid.uuid4())
            return rng.choice([*NOISE, "x" * rng.randint(1, 40), "CN", "US_REG_F", "PHONE"])
        if kind == FieldDescriptor.TYPE_BOOL:
            return rng.random() < 0.5
        if kind == FieldDescriptor.TYPE_ENUM:
            values = [v.number for v in field.enum_type.values]
            return rng.choice([*values, 99, -1])
        if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
            return rng.choice([0, 1, -1, 7, 2**31 - 1, -(2**31), rng.randint(-1000, 100_000)])
        if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
            return rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-(10**9), 10**12)])
        if kind == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.randint(0, 64))
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return rng.choice([0.0, -1.5, 1e308, float("nan")])
        raise AssertionError(f"no generator for {field.full_name}")

    def _timestamp(self) -> Timestamp:
        stamp = Timestamp()
        stamp.seconds = self.rng.choice(
            [0, 1_795_399_200, 1_795_399_200 + self.rng.randint(-(10**7), 10**7), 253_402_300_799]
        )
        stamp.nanos = self.rng.choice([0, 999_999_999])
        return stamp

    def _submessage(self, field: FieldDescriptor, depth: int) -> Message:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return self._timestamp()
        if depth >= 3:
            return message_class(field.message_type)()
        return self.message(field.message_type, depth + 1)

    def _set(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                return
            getattr(message, field.name).CopyFrom(self._submessage(field, depth))
        else:
            setattr(message, field.name, self._value(field))

    def _add(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                return
            getattr(message, field.name).add().CopyFrom(self._submessage(field, depth))
        else:
            getattr(message, field.name).append(self._value(field))


def _call(channel: grpc.Channel, service: ServiceDescriptor, method: Any, body: Any) -> Any:
    """Send raw bytes or a message to a method, whatever its streaming shape; returns the
    status code (OK when it answered) without waiting on a live stream forever."""
    path = f"/{service.full_name}/{method.name}"
    raw = isinstance(body, bytes)
    serialize = None if raw else type(body).SerializeToString
    try:
        if method.client_streaming:
            call = channel.stream_unary(path, request_serializer=serialize)
            call(iter([body, body]), timeout=5)
        elif method.server_streaming:
            call = channel.unary_stream(path, request_serializer=serialize)
            stream = call(body, timeout=0.5)
            for _ in range(3):
                next(stream, None)
            stream.cancel()
        else:
            channel.unary_unary(path, request_serializer=serialize)(body, timeout=5)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.CANCELLED:
            return grpc.StatusCode.OK  # we cancelled a live stream
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming:
            return grpc.StatusCode.OK  # a follow stream waiting for more: fine
        return error
    return grpc.StatusCode.OK


def _bodies(rng: random.Random, method: Any, messages: RandomMessages) -> Iterator[Any]:
    for _ in range(6):
        yield rng.randbytes(rng.randint(1, 200))
    yield b"\xff" * 16
    for _ in range(14):
        yield messages.message(method.input_type)


def _fuzz(
    channel: grpc.Channel, service: ServiceDescriptor, app: Any, case_ids: list[str]
) -> Counter[str]:
    """Returns how often each status came back, so a test can see the fuzz got past
    validation into the domain rules, not only bounced off the front door."""
    seen: Counter[str] = Counter()
    rng = random.Random(SEED)
    messages = RandomMessages(rng, case_ids)
    for method in service.methods:
        for body in _bodies(rng, method, messages):
            before = app.head_position() if app else 0
            outcome = _call(channel, service, method, body)
            code = outcome if isinstance(outcome, grpc.StatusCode) else outcome.code()
            seen[code.name] += 1
            shown = body if isinstance(body, bytes) else str(body)[:300]
            assert code not in CLIENT_ERRORS_ONLY, (method.name, shown, outcome)
            if app is None or code == grpc.StatusCode.OK:
                continue
            written = app.read_log(before)
            allowed = method.name == "LogContact" and code == grpc.StatusCode.FAILED_PRECONDITION
            assert all(
                allowed and type(event).__name__ == "ContactRefused" for _, event in written
            ), (method.name, shown, code, [type(e).__name__ for _, e in written])
    return seen


def test_every_case_rpc_survives_random_bytes_and_random_messages(server, stack):
    case_ids = [open_case(server.stub).case_id for _ in range(3)]
    seen = _fuzz(server.channel, CASE_SERVICE, server.app, case_ids)
    print(dict(seen))
    assert seen["OK"] > 20 and seen["INVALID_ARGUMENT"] > 100
    assert seen["FAILED_PRECONDITION"] + seen["NOT_FOUND"] > 10
    assert open_case(server.stub).case_id  # still serving


def test_every_notify_rpc_survives_random_bytes_and_random_messages(stack):
    notify = stack.start()
    case_ids = [stack.open_case() for _ in range(2)]
    with grpc.insecure_channel(f"127.0.0.1:{notify.running.port}") as channel:
        seen = _fuzz(channel, NOTIFY_SERVICE, None, case_ids)
        assert seen["OK"] > 5 and seen["INVALID_ARGUMENT"] > 10
        from casebook.v1 import notify_service_pb2_grpc as nrpc

        nrpc.NotifyServiceStub(channel).ListAlerts(nsvc.ListAlertsRequest(), timeout=5)
