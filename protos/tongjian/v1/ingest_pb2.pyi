import datetime

from protos.tongjian.v1 import inspection_pb2 as _inspection_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_STATUS_UNSPECIFIED: _ClassVar[AckStatus]
    ACK_STATUS_ACCEPTED: _ClassVar[AckStatus]
    ACK_STATUS_DUPLICATE: _ClassVar[AckStatus]
    ACK_STATUS_REJECTED: _ClassVar[AckStatus]

class RejectCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_CODE_UNSPECIFIED: _ClassVar[RejectCode]
    REJECT_CODE_KEY_UNKNOWN: _ClassVar[RejectCode]
    REJECT_CODE_KEY_REVOKED: _ClassVar[RejectCode]
    REJECT_CODE_KEY_NOT_VALID: _ClassVar[RejectCode]
    REJECT_CODE_CERTIFICATE_MISMATCH: _ClassVar[RejectCode]

class EnrollmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENROLLMENT_STATUS_UNSPECIFIED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_ENROLLED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_UNKNOWN_KEY: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_REVOKED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_EXPIRED: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_NOT_YET_VALID: _ClassVar[EnrollmentStatus]
    ENROLLMENT_STATUS_STATION_MISMATCH: _ClassVar[EnrollmentStatus]
ACK_STATUS_UNSPECIFIED: AckStatus
ACK_STATUS_ACCEPTED: AckStatus
ACK_STATUS_DUPLICATE: AckStatus
ACK_STATUS_REJECTED: AckStatus
REJECT_CODE_UNSPECIFIED: RejectCode
REJECT_CODE_KEY_UNKNOWN: RejectCode
REJECT_CODE_KEY_REVOKED: RejectCode
REJECT_CODE_KEY_NOT_VALID: RejectCode
REJECT_CODE_CERTIFICATE_MISMATCH: RejectCode
ENROLLMENT_STATUS_UNSPECIFIED: EnrollmentStatus
ENROLLMENT_STATUS_ENROLLED: EnrollmentStatus
ENROLLMENT_STATUS_UNKNOWN_KEY: EnrollmentStatus
ENROLLMENT_STATUS_REVOKED: EnrollmentStatus
ENROLLMENT_STATUS_EXPIRED: EnrollmentStatus
ENROLLMENT_STATUS_NOT_YET_VALID: EnrollmentStatus
ENROLLMENT_STATUS_STATION_MISMATCH: EnrollmentStatus

class Ack(_message.Message):
    __slots__ = ("record_id", "status", "reason", "reject_code")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    status: AckStatus
    reason: str
    reject_code: RejectCode
    def __init__(self, record_id: _Optional[str] = ..., status: _Optional[_Union[AckStatus, str]] = ..., reason: _Optional[str] = ..., reject_code: _Optional[_Union[RejectCode, str]] = ...) -> None: ...

class EnrollmentRequest(_message.Message):
    __slots__ = ("station_id", "key_id")
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    station_id: str
    key_id: str
    def __init__(self, station_id: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class EnrollmentReply(_message.Message):
    __slots__ = ("status", "station_id", "authenticated", "detail")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: EnrollmentStatus
    station_id: str
    authenticated: bool
    detail: str
    def __init__(self, status: _Optional[_Union[EnrollmentStatus, str]] = ..., station_id: _Optional[str] = ..., authenticated: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("seq", "kind", "record_id", "reason", "at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: str
    record_id: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[str] = ..., record_id: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NoticesRequest(_message.Message):
    __slots__ = ("after_seq", "limit", "station_id")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    limit: int
    station_id: str
    def __init__(self, after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., station_id: _Optional[str] = ...) -> None: ...

class NoticesReply(_message.Message):
    __slots__ = ("notices",)
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[Notice]
    def __init__(self, notices: _Optional[_Iterable[_Union[Notice, _Mapping]]] = ...) -> None: ...
