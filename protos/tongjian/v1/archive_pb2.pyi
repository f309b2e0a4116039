import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransferConclusion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_CONCLUSION_UNSPECIFIED: _ClassVar[TransferConclusion]
    TRANSFER_CONCLUSION_ACCEPTED: _ClassVar[TransferConclusion]
    TRANSFER_CONCLUSION_REFUSED: _ClassVar[TransferConclusion]
    TRANSFER_CONCLUSION_EXPIRED: _ClassVar[TransferConclusion]
TRANSFER_CONCLUSION_UNSPECIFIED: TransferConclusion
TRANSFER_CONCLUSION_ACCEPTED: TransferConclusion
TRANSFER_CONCLUSION_REFUSED: TransferConclusion
TRANSFER_CONCLUSION_EXPIRED: TransferConclusion

class TransferOffer(_message.Message):
    __slots__ = ("transfer_id", "vin", "from_province", "to_province", "requested_by")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    FROM_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    TO_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    vin: str
    from_province: str
    to_province: str
    requested_by: str
    def __init__(self, transfer_id: _Optional[str] = ..., vin: _Optional[str] = ..., from_province: _Optional[str] = ..., to_province: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class BagFile(_message.Message):
    __slots__ = ("path", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class TransferOfferReply(_message.Message):
    __slots__ = ("files", "total_bytes", "plate")
    FILES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[BagFile]
    total_bytes: int
    plate: str
    def __init__(self, files: _Optional[_Iterable[_Union[BagFile, _Mapping]]] = ..., total_bytes: _Optional[int] = ..., plate: _Optional[str] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("transfer_id", "file_index", "offset")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    file_index: int
    offset: int
    def __init__(self, transfer_id: _Optional[str] = ..., file_index: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class BagPiece(_message.Message):
    __slots__ = ("file_index", "offset", "data")
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    file_index: int
    offset: int
    data: bytes
    def __init__(self, file_index: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class BagChunk(_message.Message):
    __slots__ = ("pieces",)
    PIECES_FIELD_NUMBER: _ClassVar[int]
    pieces: _containers.RepeatedCompositeFieldContainer[BagPiece]
    def __init__(self, pieces: _Optional[_Iterable[_Union[BagPiece, _Mapping]]] = ...) -> None: ...

class ConcludeRequest(_message.Message):
    __slots__ = ("transfer_id", "conclusion", "reason", "new_plate")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CONCLUSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NEW_PLATE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    conclusion: TransferConclusion
    reason: str
    new_plate: str
    def __init__(self, transfer_id: _Optional[str] = ..., conclusion: _Optional[_Union[TransferConclusion, str]] = ..., reason: _Optional[str] = ..., new_plate: _Optional[str] = ...) -> None: ...

class ConcludeReply(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    def __init__(self, state: _Optional[str] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("vin", "from_province")
    VIN_FIELD_NUMBER: _ClassVar[int]
    FROM_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    vin: str
    from_province: str
    def __init__(self, vin: _Optional[str] = ..., from_province: _Optional[str] = ...) -> None: ...

class TransferQuery(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class IdentityObservation(_message.Message):
    __slots__ = ("transfer_id", "vin", "engine_number", "colour", "photos")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    ENGINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    vin: str
    engine_number: str
    colour: str
    photos: _containers.RepeatedCompositeFieldContainer[IdentityPhoto]
    def __init__(self, transfer_id: _Optional[str] = ..., vin: _Optional[str] = ..., engine_number: _Optional[str] = ..., colour: _Optional[str] = ..., photos: _Optional[_Iterable[_Union[IdentityPhoto, _Mapping]]] = ...) -> None: ...

class IdentityPhoto(_message.Message):
    __slots__ = ("name", "content")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: bytes
    def __init__(self, name: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class RefuseRequest(_message.Message):
    __slots__ = ("transfer_id", "reason")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    reason: str
    def __init__(self, transfer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IdentityMismatch(_message.Message):
    __slots__ = ("field", "observed", "archived", "detail")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    field: str
    observed: str
    archived: str
    detail: str
    def __init__(self, field: _Optional[str] = ..., observed: _Optional[str] = ..., archived: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class TransferStatus(_message.Message):
    __slots__ = ("transfer_id", "vin", "from_province", "to_province", "role", "state", "reason", "total_bytes", "confirmed_bytes", "total_files", "confirmed_files", "old_plate", "new_plate", "mismatches", "problems", "requested_at", "updated_at", "expires_at", "requested_by", "source_told")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    FROM_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    TO_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FILES_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FILES_FIELD_NUMBER: _ClassVar[int]
    OLD_PLATE_FIELD_NUMBER: _ClassVar[int]
    NEW_PLATE_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOLD_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    vin: str
    from_province: str
    to_province: str
    role: str
    state: str
    reason: str
    total_bytes: int
    confirmed_bytes: int
    total_files: int
    confirmed_files: int
    old_plate: str
    new_plate: str
    mismatches: _containers.RepeatedCompositeFieldContainer[IdentityMismatch]
    problems: _containers.RepeatedScalarFieldContainer[str]
    requested_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    requested_by: str
    source_told: bool
    def __init__(self, transfer_id: _Optional[str] = ..., vin: _Optional[str] = ..., from_province: _Optional[str] = ..., to_province: _Optional[str] = ..., role: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., total_bytes: _Optional[int] = ..., confirmed_bytes: _Optional[int] = ..., total_files: _Optional[int] = ..., confirmed_files: _Optional[int] = ..., old_plate: _Optional[str] = ..., new_plate: _Optional[str] = ..., mismatches: _Optional[_Iterable[_Union[IdentityMismatch, _Mapping]]] = ..., problems: _Optional[_Iterable[str]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_by: _Optional[str] = ..., source_told: _Optional[bool] = ...) -> None: ...
