import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    EARLY: _ClassVar[Stage]
    MID: _ClassVar[Stage]
    LATE: _ClassVar[Stage]
    AGENCY: _ClassVar[Stage]
    LEGAL: _ClassVar[Stage]
    CLOSED: _ClassVar[Stage]

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    PHONE: _ClassVar[Channel]
    SMS: _ClassVar[Channel]
    EMAIL: _ClassVar[Channel]
    LETTER: _ClassVar[Channel]
    FIELD_VISIT: _ClassVar[Channel]
    APP_MESSAGE: _ClassVar[Channel]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    OUTBOUND: _ClassVar[Direction]
    INBOUND: _ClassVar[Direction]

class ContactOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_OUTCOME_UNSPECIFIED: _ClassVar[ContactOutcome]
    NO_ANSWER: _ClassVar[ContactOutcome]
    BUSY: _ClassVar[ContactOutcome]
    VOICEMAIL_LEFT: _ClassVar[ContactOutcome]
    WRONG_NUMBER: _ClassVar[ContactOutcome]
    THIRD_PARTY: _ClassVar[ContactOutcome]
    RIGHT_PARTY_VERIFIED: _ClassVar[ContactOutcome]
    RIGHT_PARTY_UNVERIFIED: _ClassVar[ContactOutcome]
    REFUSED: _ClassVar[ContactOutcome]
    DELIVERED: _ClassVar[ContactOutcome]
    UNDELIVERED: _ClassVar[ContactOutcome]

class ContactTarget(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_TARGET_UNSPECIFIED: _ClassVar[ContactTarget]
    DEBTOR: _ClassVar[ContactTarget]
    REFERENCE_CONTACT: _ClassVar[ContactTarget]

class PaymentChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_CHANNEL_UNSPECIFIED: _ClassVar[PaymentChannel]
    BANK_TRANSFER: _ClassVar[PaymentChannel]
    ALIPAY: _ClassVar[PaymentChannel]
    WECHAT_PAY: _ClassVar[PaymentChannel]
    CARD: _ClassVar[PaymentChannel]
    CASH: _ClassVar[PaymentChannel]
    CHEQUE: _ClassVar[PaymentChannel]
    DIRECT_DEBIT: _ClassVar[PaymentChannel]

class LetterType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LETTER_TYPE_UNSPECIFIED: _ClassVar[LetterType]
    REMINDER: _ClassVar[LetterType]
    DEMAND: _ClassVar[LetterType]
    FINAL_NOTICE: _ClassVar[LetterType]
    LAWYER: _ClassVar[LetterType]

class CloseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOSE_REASON_UNSPECIFIED: _ClassVar[CloseReason]
    PAID_IN_FULL: _ClassVar[CloseReason]
    SETTLED: _ClassVar[CloseReason]
    WRITTEN_OFF: _ClassVar[CloseReason]
    DECEASED_DEBTOR: _ClassVar[CloseReason]
    BANKRUPT: _ClassVar[CloseReason]
    FRAUD_CONFIRMED: _ClassVar[CloseReason]
    OPENED_IN_ERROR: _ClassVar[CloseReason]

class ArrangementKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRANGEMENT_KIND_UNSPECIFIED: _ClassVar[ArrangementKind]
    INSTALMENT_PLAN: _ClassVar[ArrangementKind]
    DEFERRAL: _ClassVar[ArrangementKind]
    WAIVER: _ClassVar[ArrangementKind]
    SETTLEMENT: _ClassVar[ArrangementKind]

class HoldKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_KIND_UNSPECIFIED: _ClassVar[HoldKind]
    COMPLAINT: _ClassVar[HoldKind]
    HARDSHIP: _ClassVar[HoldKind]
    BANKRUPTCY: _ClassVar[HoldKind]
    DECEASED: _ClassVar[HoldKind]
    FRAUD: _ClassVar[HoldKind]
STAGE_UNSPECIFIED: Stage
EARLY: Stage
MID: Stage
LATE: Stage
AGENCY: Stage
LEGAL: Stage
CLOSED: Stage
CHANNEL_UNSPECIFIED: Channel
PHONE: Channel
SMS: Channel
EMAIL: Channel
LETTER: Channel
FIELD_VISIT: Channel
APP_MESSAGE: Channel
DIRECTION_UNSPECIFIED: Direction
OUTBOUND: Direction
INBOUND: Direction
CONTACT_OUTCOME_UNSPECIFIED: ContactOutcome
NO_ANSWER: ContactOutcome
BUSY: ContactOutcome
VOICEMAIL_LEFT: ContactOutcome
WRONG_NUMBER: ContactOutcome
THIRD_PARTY: ContactOutcome
RIGHT_PARTY_VERIFIED: ContactOutcome
RIGHT_PARTY_UNVERIFIED: ContactOutcome
REFUSED: ContactOutcome
DELIVERED: ContactOutcome
UNDELIVERED: ContactOutcome
CONTACT_TARGET_UNSPECIFIED: ContactTarget
DEBTOR: ContactTarget
REFERENCE_CONTACT: ContactTarget
PAYMENT_CHANNEL_UNSPECIFIED: PaymentChannel
BANK_TRANSFER: PaymentChannel
ALIPAY: PaymentChannel
WECHAT_PAY: PaymentChannel
CARD: PaymentChannel
CASH: PaymentChannel
CHEQUE: PaymentChannel
DIRECT_DEBIT: PaymentChannel
LETTER_TYPE_UNSPECIFIED: LetterType
REMINDER: LetterType
DEMAND: LetterType
FINAL_NOTICE: LetterType
LAWYER: LetterType
CLOSE_REASON_UNSPECIFIED: CloseReason
PAID_IN_FULL: CloseReason
SETTLED: CloseReason
WRITTEN_OFF: CloseReason
DECEASED_DEBTOR: CloseReason
BANKRUPT: CloseReason
FRAUD_CONFIRMED: CloseReason
OPENED_IN_ERROR: CloseReason
ARRANGEMENT_KIND_UNSPECIFIED: ArrangementKind
INSTALMENT_PLAN: ArrangementKind
DEFERRAL: ArrangementKind
WAIVER: ArrangementKind
SETTLEMENT: ArrangementKind
HOLD_KIND_UNSPECIFIED: HoldKind
COMPLAINT: HoldKind
HARDSHIP: HoldKind
BANKRUPTCY: HoldKind
DECEASED: HoldKind
FRAUD: HoldKind

class Debtor(_message.Message):
    __slots__ = ("name", "phone", "email", "address", "time_zone", "id_number")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    email: str
    address: str
    time_zone: str
    id_number: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., address: _Optional[str] = ..., time_zone: _Optional[str] = ..., id_number: _Optional[str] = ...) -> None: ...

class Instalment(_message.Message):
    __slots__ = ("amount_minor", "due_time", "paid_minor")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    due_time: _timestamp_pb2.Timestamp
    paid_minor: int
    def __init__(self, amount_minor: _Optional[int] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_minor: _Optional[int] = ...) -> None: ...

class Promise(_message.Message):
    __slots__ = ("promise_id", "amount_minor", "currency", "due_time", "payment_channel", "status", "paid_minor", "instalments", "recorded_at", "arrangement_id", "replaced_by_promise_id", "status_reason")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Promise.Status]
        OPEN: _ClassVar[Promise.Status]
        KEPT: _ClassVar[Promise.Status]
        BROKEN: _ClassVar[Promise.Status]
        CANCELLED: _ClassVar[Promise.Status]
        SUPERSEDED: _ClassVar[Promise.Status]
    STATUS_UNSPECIFIED: Promise.Status
    OPEN: Promise.Status
    KEPT: Promise.Status
    BROKEN: Promise.Status
    CANCELLED: Promise.Status
    SUPERSEDED: Promise.Status
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACED_BY_PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    promise_id: str
    amount_minor: int
    currency: str
    due_time: _timestamp_pb2.Timestamp
    payment_channel: PaymentChannel
    status: Promise.Status
    paid_minor: int
    instalments: _containers.RepeatedCompositeFieldContainer[Instalment]
    recorded_at: _timestamp_pb2.Timestamp
    arrangement_id: str
    replaced_by_promise_id: str
    status_reason: str
    def __init__(self, promise_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_channel: _Optional[_Union[PaymentChannel, str]] = ..., status: _Optional[_Union[Promise.Status, str]] = ..., paid_minor: _Optional[int] = ..., instalments: _Optional[_Iterable[_Union[Instalment, _Mapping]]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., arrangement_id: _Optional[str] = ..., replaced_by_promise_id: _Optional[str] = ..., status_reason: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("payment_id", "payment_reference", "amount_minor", "currency", "received_at", "overpayment_minor", "allocated_promise_ids")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    OVERPAYMENT_MINOR_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_PROMISE_IDS_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    payment_reference: str
    amount_minor: int
    currency: str
    received_at: _timestamp_pb2.Timestamp
    overpayment_minor: int
    allocated_promise_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, payment_id: _Optional[str] = ..., payment_reference: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overpayment_minor: _Optional[int] = ..., allocated_promise_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Arrangement(_message.Message):
    __slots__ = ("arrangement_id", "kind", "status", "instalments", "deferred_until", "waiver_minor", "settlement_amount_minor", "settlement_due_time", "requires_approval", "proposed_by", "approved_by", "note")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Arrangement.Status]
        PENDING_APPROVAL: _ClassVar[Arrangement.Status]
        APPROVED: _ClassVar[Arrangement.Status]
    STATUS_UNSPECIFIED: Arrangement.Status
    PENDING_APPROVAL: Arrangement.Status
    APPROVED: Arrangement.Status
    ARRANGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    WAIVER_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    arrangement_id: str
    kind: ArrangementKind
    status: Arrangement.Status
    instalments: _containers.RepeatedCompositeFieldContainer[Instalment]
    deferred_until: _timestamp_pb2.Timestamp
    waiver_minor: int
    settlement_amount_minor: int
    settlement_due_time: _timestamp_pb2.Timestamp
    requires_approval: bool
    proposed_by: str
    approved_by: str
    note: str
    def __init__(self, arrangement_id: _Optional[str] = ..., kind: _Optional[_Union[ArrangementKind, str]] = ..., status: _Optional[_Union[Arrangement.Status, str]] = ..., instalments: _Optional[_Iterable[_Union[Instalment, _Mapping]]] = ..., deferred_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., waiver_minor: _Optional[int] = ..., settlement_amount_minor: _Optional[int] = ..., settlement_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requires_approval: _Optional[bool] = ..., proposed_by: _Optional[str] = ..., approved_by: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("dispute_id", "status", "reason", "raised_at", "resolved_at", "resolution")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Dispute.Status]
        OPEN: _ClassVar[Dispute.Status]
        RESOLVED: _ClassVar[Dispute.Status]
    STATUS_UNSPECIFIED: Dispute.Status
    OPEN: Dispute.Status
    RESOLVED: Dispute.Status
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    status: Dispute.Status
    reason: str
    raised_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    resolution: str
    def __init__(self, dispute_id: _Optional[str] = ..., status: _Optional[_Union[Dispute.Status, str]] = ..., reason: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution: _Optional[str] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "kind", "since", "until", "released_at", "reason", "active")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    kind: HoldKind
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    released_at: _timestamp_pb2.Timestamp
    reason: str
    active: bool
    def __init__(self, hold_id: _Optional[str] = ..., kind: _Optional[_Union[HoldKind, str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class Letter(_message.Message):
    __slots__ = ("letter_type", "template_id", "template_version", "content_sha256", "issued_at")
    LETTER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    letter_type: LetterType
    template_id: str
    template_version: int
    content_sha256: str
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, letter_type: _Optional[_Union[LetterType, str]] = ..., template_id: _Optional[str] = ..., template_version: _Optional[int] = ..., content_sha256: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_id", "account_id", "debtor", "profile", "stage", "days_past_due", "currency", "overdue_amount_minor", "balance_minor", "paid_minor", "overpaid_minor", "waived_minor", "promises", "payments", "arrangements", "disputes", "ceased_channels", "letters", "contact_attempts", "right_party_contacts", "last_contact_time", "close_reason", "opened_at", "updated_at", "version", "etag", "holds", "assignee", "log_position")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DEBTOR_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MINOR_FIELD_NUMBER: _ClassVar[int]
    PAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    OVERPAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    WAIVED_MINOR_FIELD_NUMBER: _ClassVar[int]
    PROMISES_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    ARRANGEMENTS_FIELD_NUMBER: _ClassVar[int]
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    CEASED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    LETTERS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_PARTY_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    LAST_CONTACT_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    account_id: str
    debtor: Debtor
    profile: str
    stage: Stage
    days_past_due: int
    currency: str
    overdue_amount_minor: int
    balance_minor: int
    paid_minor: int
    overpaid_minor: int
    waived_minor: int
    promises: _containers.RepeatedCompositeFieldContainer[Promise]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    arrangements: _containers.RepeatedCompositeFieldContainer[Arrangement]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    ceased_channels: _containers.RepeatedScalarFieldContainer[Channel]
    letters: _containers.RepeatedCompositeFieldContainer[Letter]
    contact_attempts: int
    right_party_contacts: int
    last_contact_time: _timestamp_pb2.Timestamp
    close_reason: CloseReason
    opened_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: int
    etag: str
    holds: _containers.RepeatedCompositeFieldContainer[Hold]
    assignee: str
    log_position: int
    def __init__(self, case_id: _Optional[str] = ..., account_id: _Optional[str] = ..., debtor: _Optional[_Union[Debtor, _Mapping]] = ..., profile: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., days_past_due: _Optional[int] = ..., currency: _Optional[str] = ..., overdue_amount_minor: _Optional[int] = ..., balance_minor: _Optional[int] = ..., paid_minor: _Optional[int] = ..., overpaid_minor: _Optional[int] = ..., waived_minor: _Optional[int] = ..., promises: _Optional[_Iterable[_Union[Promise, _Mapping]]] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., arrangements: _Optional[_Iterable[_Union[Arrangement, _Mapping]]] = ..., disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ..., ceased_channels: _Optional[_Iterable[_Union[Channel, str]]] = ..., letters: _Optional[_Iterable[_Union[Letter, _Mapping]]] = ..., contact_attempts: _Optional[int] = ..., right_party_contacts: _Optional[int] = ..., last_contact_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_reason: _Optional[_Union[CloseReason, str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., etag: _Optional[str] = ..., holds: _Optional[_Iterable[_Union[Hold, _Mapping]]] = ..., assignee: _Optional[str] = ..., log_position: _Optional[int] = ...) -> None: ...

class CaseEvent(_message.Message):
    __slots__ = ("position", "case_id", "version", "type", "occurred_at", "recorded_at", "actor", "request_id", "payload_json", "previous_hash", "hash")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    position: int
    case_id: str
    version: int
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    actor: str
    request_id: str
    payload_json: str
    previous_hash: str
    hash: str
    def __init__(self, position: _Optional[int] = ..., case_id: _Optional[str] = ..., version: _Optional[int] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., payload_json: _Optional[str] = ..., previous_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...
