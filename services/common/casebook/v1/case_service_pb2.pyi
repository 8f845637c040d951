import datetime

from casebook.v1 import case_pb2 as _case_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpenCaseRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "debtor", "profile", "overdue_amount_minor", "currency", "days_past_due", "opened_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DEBTOR_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    debtor: _case_pb2.Debtor
    profile: str
    overdue_amount_minor: int
    currency: str
    days_past_due: int
    opened_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., debtor: _Optional[_Union[_case_pb2.Debtor, _Mapping]] = ..., profile: _Optional[str] = ..., overdue_amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., days_past_due: _Optional[int] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id", "as_of_version", "as_of_time")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    as_of_version: int
    as_of_time: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., as_of_version: _Optional[int] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token", "order_by", "min_position")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    filter: str
    page_size: int
    page_token: str
    order_by: str
    min_position: int
    def __init__(self, filter: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_by: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_case_pb2.Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[_case_pb2.Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LogContactRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "channel", "direction", "outcome", "occurred_at", "agent_id", "note", "target", "debt_disclosed")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DEBT_DISCLOSED_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    channel: _case_pb2.Channel
    direction: _case_pb2.Direction
    outcome: _case_pb2.ContactOutcome
    occurred_at: _timestamp_pb2.Timestamp
    agent_id: str
    note: str
    target: _case_pb2.ContactTarget
    debt_disclosed: bool
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., channel: _Optional[_Union[_case_pb2.Channel, str]] = ..., direction: _Optional[_Union[_case_pb2.Direction, str]] = ..., outcome: _Optional[_Union[_case_pb2.ContactOutcome, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_id: _Optional[str] = ..., note: _Optional[str] = ..., target: _Optional[_Union[_case_pb2.ContactTarget, str]] = ..., debt_disclosed: _Optional[bool] = ...) -> None: ...

class RecordPromiseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "amount_minor", "due_time", "payment_channel", "instalments", "replaces_promise_id", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_FIELD_NUMBER: _ClassVar[int]
    REPLACES_PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    amount_minor: int
    due_time: _timestamp_pb2.Timestamp
    payment_channel: _case_pb2.PaymentChannel
    instalments: _containers.RepeatedCompositeFieldContainer[_case_pb2.Instalment]
    replaces_promise_id: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., amount_minor: _Optional[int] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_channel: _Optional[_Union[_case_pb2.PaymentChannel, str]] = ..., instalments: _Optional[_Iterable[_Union[_case_pb2.Instalment, _Mapping]]] = ..., replaces_promise_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class RecordPromiseResponse(_message.Message):
    __slots__ = ("case", "promise_id")
    CASE_FIELD_NUMBER: _ClassVar[int]
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    case: _case_pb2.Case
    promise_id: str
    def __init__(self, case: _Optional[_Union[_case_pb2.Case, _Mapping]] = ..., promise_id: _Optional[str] = ...) -> None: ...

class RecordPaymentRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "amount_minor", "currency", "received_at", "payment_reference")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    amount_minor: int
    currency: str
    received_at: _timestamp_pb2.Timestamp
    payment_reference: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_reference: _Optional[str] = ...) -> None: ...

class RecordPaymentResponse(_message.Message):
    __slots__ = ("case", "payment_id")
    CASE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    case: _case_pb2.Case
    payment_id: str
    def __init__(self, case: _Optional[_Union[_case_pb2.Case, _Mapping]] = ..., payment_id: _Optional[str] = ...) -> None: ...

class MarkPromiseBrokenRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "promise_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    promise_id: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., promise_id: _Optional[str] = ...) -> None: ...

class IssueLetterRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "letter_type", "template_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LETTER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    letter_type: _case_pb2.LetterType
    template_id: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., letter_type: _Optional[_Union[_case_pb2.LetterType, str]] = ..., template_id: _Optional[str] = ...) -> None: ...

class EscalateRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "to_stage", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    to_stage: _case_pb2.Stage
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., to_stage: _Optional[_Union[_case_pb2.Stage, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class RaiseDisputeRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "reason", "received_at")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    reason: str
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RaiseDisputeResponse(_message.Message):
    __slots__ = ("case", "dispute_id")
    CASE_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    case: _case_pb2.Case
    dispute_id: str
    def __init__(self, case: _Optional[_Union[_case_pb2.Case, _Mapping]] = ..., dispute_id: _Optional[str] = ...) -> None: ...

class ResolveDisputeRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "dispute_id", "resolution")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    dispute_id: str
    resolution: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., dispute_id: _Optional[str] = ..., resolution: _Optional[str] = ...) -> None: ...

class RecordCeaseRequestRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "channel", "received_at", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    channel: _case_pb2.Channel
    received_at: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., channel: _Optional[_Union[_case_pb2.Channel, str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class PlaceHoldRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "kind", "until", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    kind: _case_pb2.HoldKind
    until: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., kind: _Optional[_Union[_case_pb2.HoldKind, str]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PlaceHoldResponse(_message.Message):
    __slots__ = ("case", "hold_id")
    CASE_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    case: _case_pb2.Case
    hold_id: str
    def __init__(self, case: _Optional[_Union[_case_pb2.Case, _Mapping]] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "hold_id", "reason")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    hold_id: str
    reason: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., hold_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ProposeArrangementRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "kind", "instalments", "deferred_until", "waiver_minor", "settlement_amount_minor", "settlement_due_time", "payment_channel", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    WAIVER_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    kind: _case_pb2.ArrangementKind
    instalments: _containers.RepeatedCompositeFieldContainer[_case_pb2.Instalment]
    deferred_until: _timestamp_pb2.Timestamp
    waiver_minor: int
    settlement_amount_minor: int
    settlement_due_time: _timestamp_pb2.Timestamp
    payment_channel: _case_pb2.PaymentChannel
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., kind: _Optional[_Union[_case_pb2.ArrangementKind, str]] = ..., instalments: _Optional[_Iterable[_Union[_case_pb2.Instalment, _Mapping]]] = ..., deferred_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., waiver_minor: _Optional[int] = ..., settlement_amount_minor: _Optional[int] = ..., settlement_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_channel: _Optional[_Union[_case_pb2.PaymentChannel, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ProposeArrangementResponse(_message.Message):
    __slots__ = ("case", "arrangement_id")
    CASE_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    case: _case_pb2.Case
    arrangement_id: str
    def __init__(self, case: _Optional[_Union[_case_pb2.Case, _Mapping]] = ..., arrangement_id: _Optional[str] = ...) -> None: ...

class ApproveArrangementRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "arrangement_id", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    arrangement_id: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., arrangement_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AssignCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "assignee", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    assignee: str
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., assignee: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("case_id", "request_id", "expected_version", "reason", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    request_id: str
    expected_version: int
    reason: _case_pb2.CloseReason
    note: str
    def __init__(self, case_id: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[_Union[_case_pb2.CloseReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class CheckContactPermittedRequest(_message.Message):
    __slots__ = ("case_id", "channel", "at")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    channel: _case_pb2.Channel
    at: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., channel: _Optional[_Union[_case_pb2.Channel, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckContactPermittedResponse(_message.Message):
    __slots__ = ("permitted", "reasons", "next_permitted_time", "profile", "profile_version")
    PERMITTED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PERMITTED_TIME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_VERSION_FIELD_NUMBER: _ClassVar[int]
    permitted: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    next_permitted_time: _timestamp_pb2.Timestamp
    profile: str
    profile_version: int
    def __init__(self, permitted: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ..., next_permitted_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile: _Optional[str] = ..., profile_version: _Optional[int] = ...) -> None: ...

class GetCaseHistoryRequest(_message.Message):
    __slots__ = ("case_id", "from_version", "types")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    from_version: int
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_id: _Optional[str] = ..., from_version: _Optional[int] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class VerifyCaseHistoryRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class VerifyCaseHistoryResponse(_message.Message):
    __slots__ = ("ok", "event_count", "head_hash", "first_bad_version", "problem")
    OK_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    event_count: int
    head_hash: str
    first_bad_version: int
    problem: str
    def __init__(self, ok: _Optional[bool] = ..., event_count: _Optional[int] = ..., head_hash: _Optional[str] = ..., first_bad_version: _Optional[int] = ..., problem: _Optional[str] = ...) -> None: ...

class GetLedgerDigestRequest(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class GetLedgerDigestResponse(_message.Message):
    __slots__ = ("position", "digest", "signature", "key_id", "case_count")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    position: int
    digest: str
    signature: str
    key_id: str
    case_count: int
    def __init__(self, position: _Optional[int] = ..., digest: _Optional[str] = ..., signature: _Optional[str] = ..., key_id: _Optional[str] = ..., case_count: _Optional[int] = ...) -> None: ...

class ImportPaymentsRequest(_message.Message):
    __slots__ = ("case_id", "amount_minor", "currency", "received_at", "payment_reference")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    amount_minor: int
    currency: str
    received_at: _timestamp_pb2.Timestamp
    payment_reference: str
    def __init__(self, case_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_reference: _Optional[str] = ...) -> None: ...

class ImportPaymentsResponse(_message.Message):
    __slots__ = ("received", "recorded", "duplicates", "failed", "errors")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    received: int
    recorded: int
    duplicates: int
    failed: int
    errors: _containers.RepeatedCompositeFieldContainer[ImportError]
    def __init__(self, received: _Optional[int] = ..., recorded: _Optional[int] = ..., duplicates: _Optional[int] = ..., failed: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[ImportError, _Mapping]]] = ...) -> None: ...

class ImportError(_message.Message):
    __slots__ = ("index", "payment_reference", "code", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    payment_reference: str
    code: str
    message: str
    def __init__(self, index: _Optional[int] = ..., payment_reference: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetPortfolioStatsRequest(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPortfolioStatsResponse(_message.Message):
    __slots__ = ("cases_per_stage", "promises", "amounts", "contacts", "start_time", "end_time", "position")
    class CasesPerStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CASES_PER_STAGE_FIELD_NUMBER: _ClassVar[int]
    PROMISES_FIELD_NUMBER: _ClassVar[int]
    AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    cases_per_stage: _containers.ScalarMap[str, int]
    promises: PromiseOutcomes
    amounts: _containers.RepeatedCompositeFieldContainer[CurrencyTotals]
    contacts: _containers.RepeatedCompositeFieldContainer[ChannelContacts]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    position: int
    def __init__(self, cases_per_stage: _Optional[_Mapping[str, int]] = ..., promises: _Optional[_Union[PromiseOutcomes, _Mapping]] = ..., amounts: _Optional[_Iterable[_Union[CurrencyTotals, _Mapping]]] = ..., contacts: _Optional[_Iterable[_Union[ChannelContacts, _Mapping]]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[int] = ...) -> None: ...

class PromiseOutcomes(_message.Message):
    __slots__ = ("fell_due", "kept", "broken", "open", "withdrawn", "kept_rate", "broken_rate")
    FELL_DUE_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    BROKEN_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    KEPT_RATE_FIELD_NUMBER: _ClassVar[int]
    BROKEN_RATE_FIELD_NUMBER: _ClassVar[int]
    fell_due: int
    kept: int
    broken: int
    open: int
    withdrawn: int
    kept_rate: float
    broken_rate: float
    def __init__(self, fell_due: _Optional[int] = ..., kept: _Optional[int] = ..., broken: _Optional[int] = ..., open: _Optional[int] = ..., withdrawn: _Optional[int] = ..., kept_rate: _Optional[float] = ..., broken_rate: _Optional[float] = ...) -> None: ...

class CurrencyTotals(_message.Message):
    __slots__ = ("currency", "promises_recorded", "promised_minor", "payments_received", "collected_minor")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PROMISES_RECORDED_FIELD_NUMBER: _ClassVar[int]
    PROMISED_MINOR_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_MINOR_FIELD_NUMBER: _ClassVar[int]
    currency: str
    promises_recorded: int
    promised_minor: int
    payments_received: int
    collected_minor: int
    def __init__(self, currency: _Optional[str] = ..., promises_recorded: _Optional[int] = ..., promised_minor: _Optional[int] = ..., payments_received: _Optional[int] = ..., collected_minor: _Optional[int] = ...) -> None: ...

class ChannelContacts(_message.Message):
    __slots__ = ("channel", "attempts", "right_party_contacts", "right_party_rate", "inbound")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_PARTY_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_PARTY_RATE_FIELD_NUMBER: _ClassVar[int]
    INBOUND_FIELD_NUMBER: _ClassVar[int]
    channel: _case_pb2.Channel
    attempts: int
    right_party_contacts: int
    right_party_rate: float
    inbound: int
    def __init__(self, channel: _Optional[_Union[_case_pb2.Channel, str]] = ..., attempts: _Optional[int] = ..., right_party_contacts: _Optional[int] = ..., right_party_rate: _Optional[float] = ..., inbound: _Optional[int] = ...) -> None: ...

class SubscribeEventsRequest(_message.Message):
    __slots__ = ("after_position", "max_events_per_message")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    max_events_per_message: int
    def __init__(self, after_position: _Optional[int] = ..., max_events_per_message: _Optional[int] = ...) -> None: ...

class SubscribeEventsResponse(_message.Message):
    __slots__ = ("event", "events")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    event: _case_pb2.CaseEvent
    events: _containers.RepeatedCompositeFieldContainer[_case_pb2.CaseEvent]
    def __init__(self, event: _Optional[_Union[_case_pb2.CaseEvent, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_case_pb2.CaseEvent, _Mapping]]] = ...) -> None: ...
