import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.tongjian.v1 import labels_pb2 as _labels_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ForwardStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORWARD_STATUS_UNSPECIFIED: _ClassVar[ForwardStatus]
    FORWARD_STATUS_ACCEPTED: _ClassVar[ForwardStatus]
    FORWARD_STATUS_DUPLICATE: _ClassVar[ForwardStatus]
    FORWARD_STATUS_UNKNOWN_VEHICLE: _ClassVar[ForwardStatus]
    FORWARD_STATUS_WRONG_PROVINCE: _ClassVar[ForwardStatus]
    FORWARD_STATUS_REJECTED: _ClassVar[ForwardStatus]
    FORWARD_STATUS_RETRY_LATER: _ClassVar[ForwardStatus]

class WitnessStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WITNESS_STATUS_UNSPECIFIED: _ClassVar[WitnessStatus]
    WITNESS_STATUS_ACCEPTED: _ClassVar[WitnessStatus]
    WITNESS_STATUS_NEED_PROOF: _ClassVar[WitnessStatus]
    WITNESS_STATUS_REFUSED: _ClassVar[WitnessStatus]
FORWARD_STATUS_UNSPECIFIED: ForwardStatus
FORWARD_STATUS_ACCEPTED: ForwardStatus
FORWARD_STATUS_DUPLICATE: ForwardStatus
FORWARD_STATUS_UNKNOWN_VEHICLE: ForwardStatus
FORWARD_STATUS_WRONG_PROVINCE: ForwardStatus
FORWARD_STATUS_REJECTED: ForwardStatus
FORWARD_STATUS_RETRY_LATER: ForwardStatus
WITNESS_STATUS_UNSPECIFIED: WitnessStatus
WITNESS_STATUS_ACCEPTED: WitnessStatus
WITNESS_STATUS_NEED_PROOF: WitnessStatus
WITNESS_STATUS_REFUSED: WitnessStatus

class SignedDocument(_message.Message):
    __slots__ = ("body", "key_id", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    key_id: str
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class TrustList(_message.Message):
    __slots__ = ("version", "issued_at", "not_after", "provinces")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    version: int
    issued_at: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    provinces: _containers.RepeatedCompositeFieldContainer[ProvinceHub]
    def __init__(self, version: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provinces: _Optional[_Iterable[_Union[ProvinceHub, _Mapping]]] = ...) -> None: ...

class ProvinceHub(_message.Message):
    __slots__ = ("province", "name", "endpoint", "peer_name", "peer_ca_pem", "hub_public_key")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PEER_NAME_FIELD_NUMBER: _ClassVar[int]
    PEER_CA_PEM_FIELD_NUMBER: _ClassVar[int]
    HUB_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    province: str
    name: str
    endpoint: str
    peer_name: str
    peer_ca_pem: bytes
    hub_public_key: bytes
    def __init__(self, province: _Optional[str] = ..., name: _Optional[str] = ..., endpoint: _Optional[str] = ..., peer_name: _Optional[str] = ..., peer_ca_pem: _Optional[bytes] = ..., hub_public_key: _Optional[bytes] = ...) -> None: ...

class StationDirectory(_message.Message):
    __slots__ = ("province", "sequence", "issued_at", "valid_until", "keys")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    province: str
    sequence: int
    issued_at: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    keys: _containers.RepeatedCompositeFieldContainer[DirectoryKey]
    def __init__(self, province: _Optional[str] = ..., sequence: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., keys: _Optional[_Iterable[_Union[DirectoryKey, _Mapping]]] = ...) -> None: ...

class DirectoryKey(_message.Message):
    __slots__ = ("station_id", "key_id", "public_key", "valid_from", "valid_until", "revoked_at")
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    station_id: str
    key_id: str
    public_key: bytes
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, station_id: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ForwardBody(_message.Message):
    __slots__ = ("from_province", "to_province", "station_envelope", "received_at", "hub_overall", "hub_verdict_json", "directory_sequence")
    FROM_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    TO_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    STATION_ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    HUB_OVERALL_FIELD_NUMBER: _ClassVar[int]
    HUB_VERDICT_JSON_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    from_province: str
    to_province: str
    station_envelope: bytes
    received_at: _timestamp_pb2.Timestamp
    hub_overall: str
    hub_verdict_json: str
    directory_sequence: int
    def __init__(self, from_province: _Optional[str] = ..., to_province: _Optional[str] = ..., station_envelope: _Optional[bytes] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hub_overall: _Optional[str] = ..., hub_verdict_json: _Optional[str] = ..., directory_sequence: _Optional[int] = ...) -> None: ...

class ForwardItem(_message.Message):
    __slots__ = ("directory", "record")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    directory: SignedDocument
    record: SignedDocument
    def __init__(self, directory: _Optional[_Union[SignedDocument, _Mapping]] = ..., record: _Optional[_Union[SignedDocument, _Mapping]] = ...) -> None: ...

class ForwardAck(_message.Message):
    __slots__ = ("station_id", "record_id", "status", "reason")
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    station_id: str
    record_id: str
    status: ForwardStatus
    reason: str
    def __init__(self, station_id: _Optional[str] = ..., record_id: _Optional[str] = ..., status: _Optional[_Union[ForwardStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class TrustListRequest(_message.Message):
    __slots__ = ("have_version",)
    HAVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    have_version: int
    def __init__(self, have_version: _Optional[int] = ...) -> None: ...

class TrustListReply(_message.Message):
    __slots__ = ("trust_list",)
    TRUST_LIST_FIELD_NUMBER: _ClassVar[int]
    trust_list: SignedDocument
    def __init__(self, trust_list: _Optional[_Union[SignedDocument, _Mapping]] = ...) -> None: ...

class DirectoryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WitnessRequest(_message.Message):
    __slots__ = ("province", "checkpoint", "old_size", "consistency_proof")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    province: str
    checkpoint: SignedDocument
    old_size: int
    consistency_proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, province: _Optional[str] = ..., checkpoint: _Optional[_Union[SignedDocument, _Mapping]] = ..., old_size: _Optional[int] = ..., consistency_proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class WitnessReply(_message.Message):
    __slots__ = ("status", "held_size", "reason")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HELD_SIZE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    status: WitnessStatus
    held_size: int
    reason: str
    def __init__(self, status: _Optional[_Union[WitnessStatus, str]] = ..., held_size: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
