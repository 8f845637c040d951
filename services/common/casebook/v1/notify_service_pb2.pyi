import datetime

from casebook.v1 import case_pb2 as _case_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    BROKEN_PROMISE: _ClassVar[AlertKind]
ALERT_KIND_UNSPECIFIED: AlertKind
BROKEN_PROMISE: AlertKind

class Alert(_message.Message):
    __slots__ = ("alert_id", "kind", "case_id", "promise_id", "raised_at", "missed_due_time", "unpaid_minor", "acknowledged", "acknowledged_by", "acknowledged_at", "sequence")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    MISSED_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    UNPAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    kind: AlertKind
    case_id: str
    promise_id: str
    raised_at: _timestamp_pb2.Timestamp
    missed_due_time: _timestamp_pb2.Timestamp
    unpaid_minor: int
    acknowledged: bool
    acknowledged_by: str
    acknowledged_at: _timestamp_pb2.Timestamp
    sequence: int
    def __init__(self, alert_id: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., case_id: _Optional[str] = ..., promise_id: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., missed_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unpaid_minor: _Optional[int] = ..., acknowledged: _Optional[bool] = ..., acknowledged_by: _Optional[str] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class AlertFilter(_message.Message):
    __slots__ = ("case_id", "kind", "acknowledged")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    kind: AlertKind
    acknowledged: bool
    def __init__(self, case_id: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., acknowledged: _Optional[bool] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: AlertFilter
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_page_token")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    next_page_token: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ("filter", "after_sequence")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    filter: AlertFilter
    after_sequence: int
    def __init__(self, filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("alert_id", "agent_id")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    agent_id: str
    def __init__(self, alert_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class Reminder(_message.Message):
    __slots__ = ("reminder_id", "case_id", "promise_id", "channel", "due_time", "scheduled_for", "status", "reason", "attempts", "sent_at")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Reminder.Status]
        SCHEDULED: _ClassVar[Reminder.Status]
        SENDING: _ClassVar[Reminder.Status]
        SENT: _ClassVar[Reminder.Status]
        SKIPPED: _ClassVar[Reminder.Status]
        FAILED: _ClassVar[Reminder.Status]
    STATUS_UNSPECIFIED: Reminder.Status
    SCHEDULED: Reminder.Status
    SENDING: Reminder.Status
    SENT: Reminder.Status
    SKIPPED: Reminder.Status
    FAILED: Reminder.Status
    REMINDER_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    PROMISE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    reminder_id: str
    case_id: str
    promise_id: str
    channel: _case_pb2.Channel
    due_time: _timestamp_pb2.Timestamp
    scheduled_for: _timestamp_pb2.Timestamp
    status: Reminder.Status
    reason: str
    attempts: int
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, reminder_id: _Optional[str] = ..., case_id: _Optional[str] = ..., promise_id: _Optional[str] = ..., channel: _Optional[_Union[_case_pb2.Channel, str]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scheduled_for: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[Reminder.Status, str]] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRemindersRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class ListRemindersResponse(_message.Message):
    __slots__ = ("reminders",)
    REMINDERS_FIELD_NUMBER: _ClassVar[int]
    reminders: _containers.RepeatedCompositeFieldContainer[Reminder]
    def __init__(self, reminders: _Optional[_Iterable[_Union[Reminder, _Mapping]]] = ...) -> None: ...
