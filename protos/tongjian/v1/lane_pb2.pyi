import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.tongjian.v1 import inspection_pb2 as _inspection_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LaneState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANE_STATE_UNSPECIFIED: _ClassVar[LaneState]
    LANE_STATE_WAITING: _ClassVar[LaneState]
    LANE_STATE_CHECKING_IN: _ClassVar[LaneState]
    LANE_STATE_BRAKE: _ClassVar[LaneState]
    LANE_STATE_HEADLIGHT: _ClassVar[LaneState]
    LANE_STATE_EMISSION: _ClassVar[LaneState]
    LANE_STATE_VISUAL: _ClassVar[LaneState]
    LANE_STATE_COMPLETING: _ClassVar[LaneState]
    LANE_STATE_COMPLETE: _ClassVar[LaneState]
    LANE_STATE_ABORTED: _ClassVar[LaneState]
LANE_STATE_UNSPECIFIED: LaneState
LANE_STATE_WAITING: LaneState
LANE_STATE_CHECKING_IN: LaneState
LANE_STATE_BRAKE: LaneState
LANE_STATE_HEADLIGHT: LaneState
LANE_STATE_EMISSION: LaneState
LANE_STATE_VISUAL: LaneState
LANE_STATE_COMPLETING: LaneState
LANE_STATE_COMPLETE: LaneState
LANE_STATE_ABORTED: LaneState

class SignInRequest(_message.Message):
    __slots__ = ("inspector_id", "credential")
    INSPECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    inspector_id: str
    credential: str
    def __init__(self, inspector_id: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class SignInResponse(_message.Message):
    __slots__ = ("session_token", "expires_at")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, session_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListVehiclesRequest(_message.Message):
    __slots__ = ("session_token", "lane")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    lane: int
    def __init__(self, session_token: _Optional[str] = ..., lane: _Optional[int] = ...) -> None: ...

class LaneVehicle(_message.Message):
    __slots__ = ("record_id", "vin", "plate", "vehicle_class", "fuel", "state", "error", "checked_items", "photo_count", "started_at")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_CLASS_FIELD_NUMBER: _ClassVar[int]
    FUEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CHECKED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PHOTO_COUNT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    vin: str
    plate: str
    vehicle_class: _inspection_pb2.VehicleClass
    fuel: _inspection_pb2.Fuel
    state: LaneState
    error: str
    checked_items: _containers.RepeatedScalarFieldContainer[str]
    photo_count: int
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, record_id: _Optional[str] = ..., vin: _Optional[str] = ..., plate: _Optional[str] = ..., vehicle_class: _Optional[_Union[_inspection_pb2.VehicleClass, str]] = ..., fuel: _Optional[_Union[_inspection_pb2.Fuel, str]] = ..., state: _Optional[_Union[LaneState, str]] = ..., error: _Optional[str] = ..., checked_items: _Optional[_Iterable[str]] = ..., photo_count: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListVehiclesResponse(_message.Message):
    __slots__ = ("station_id", "lane", "vehicles")
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    station_id: str
    lane: int
    vehicles: _containers.RepeatedCompositeFieldContainer[LaneVehicle]
    def __init__(self, station_id: _Optional[str] = ..., lane: _Optional[int] = ..., vehicles: _Optional[_Iterable[_Union[LaneVehicle, _Mapping]]] = ...) -> None: ...

class CheckInRequest(_message.Message):
    __slots__ = ("session_token", "lane", "vehicle", "purpose", "laden")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LADEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    lane: int
    vehicle: _inspection_pb2.Vehicle
    purpose: _inspection_pb2.InspectionPurpose
    laden: bool
    def __init__(self, session_token: _Optional[str] = ..., lane: _Optional[int] = ..., vehicle: _Optional[_Union[_inspection_pb2.Vehicle, _Mapping]] = ..., purpose: _Optional[_Union[_inspection_pb2.InspectionPurpose, str]] = ..., laden: _Optional[bool] = ...) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("record_id", "started_at")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, record_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckItem(_message.Message):
    __slots__ = ("item_code", "passed", "note", "reason")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    passed: bool
    note: str
    reason: str
    def __init__(self, item_code: _Optional[str] = ..., passed: _Optional[bool] = ..., note: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SubmitChecksRequest(_message.Message):
    __slots__ = ("session_token", "record_id", "items")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    record_id: str
    items: _containers.RepeatedCompositeFieldContainer[CheckItem]
    def __init__(self, session_token: _Optional[str] = ..., record_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[CheckItem, _Mapping]]] = ...) -> None: ...

class SubmitChecksResponse(_message.Message):
    __slots__ = ("accepted", "checked_items")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CHECKED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    checked_items: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accepted: _Optional[int] = ..., checked_items: _Optional[_Iterable[str]] = ...) -> None: ...

class PhotoHeader(_message.Message):
    __slots__ = ("session_token", "record_id", "item_code", "content_type")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    record_id: str
    item_code: str
    content_type: str
    def __init__(self, session_token: _Optional[str] = ..., record_id: _Optional[str] = ..., item_code: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class PhotoChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: PhotoHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[PhotoHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadPhotoResponse(_message.Message):
    __slots__ = ("sha256", "size_bytes")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    size_bytes: int
    def __init__(self, sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("session_token", "record_id")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    record_id: str
    def __init__(self, session_token: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("record_id", "overall", "finished_at", "failing")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILING_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    overall: _inspection_pb2.Outcome
    finished_at: _timestamp_pb2.Timestamp
    failing: _containers.RepeatedCompositeFieldContainer[_inspection_pb2.VerdictItem]
    def __init__(self, record_id: _Optional[str] = ..., overall: _Optional[_Union[_inspection_pb2.Outcome, str]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failing: _Optional[_Iterable[_Union[_inspection_pb2.VerdictItem, _Mapping]]] = ...) -> None: ...

class AbortRequest(_message.Message):
    __slots__ = ("session_token", "record_id", "reason")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    record_id: str
    reason: str
    def __init__(self, session_token: _Optional[str] = ..., record_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AbortResponse(_message.Message):
    __slots__ = ("record_id", "state", "error")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    state: LaneState
    error: str
    def __init__(self, record_id: _Optional[str] = ..., state: _Optional[_Union[LaneState, str]] = ..., error: _Optional[str] = ...) -> None: ...

class WatchVisitRequest(_message.Message):
    __slots__ = ("session_token", "record_id")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    record_id: str
    def __init__(self, session_token: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...

class VisitProgress(_message.Message):
    __slots__ = ("record_id", "state", "at", "error")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    state: LaneState
    at: _timestamp_pb2.Timestamp
    error: str
    def __init__(self, record_id: _Optional[str] = ..., state: _Optional[_Union[LaneState, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class GetLaneStatusRequest(_message.Message):
    __slots__ = ("session_token", "lane")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    lane: int
    def __init__(self, session_token: _Optional[str] = ..., lane: _Optional[int] = ...) -> None: ...

class BenchState(_message.Message):
    __slots__ = ("name", "kind", "up", "since", "last_error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    up: bool
    since: _timestamp_pb2.Timestamp
    last_error: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., up: _Optional[bool] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ...) -> None: ...

class GetLaneStatusResponse(_message.Message):
    __slots__ = ("station_id", "lane", "benches")
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    BENCHES_FIELD_NUMBER: _ClassVar[int]
    station_id: str
    lane: int
    benches: _containers.RepeatedCompositeFieldContainer[BenchState]
    def __init__(self, station_id: _Optional[str] = ..., lane: _Optional[int] = ..., benches: _Optional[_Iterable[_Union[BenchState, _Mapping]]] = ...) -> None: ...
