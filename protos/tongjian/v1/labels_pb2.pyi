from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExemptionApplication(_message.Message):
    __slots__ = ("vin", "plate", "application_date")
    VIN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_DATE_FIELD_NUMBER: _ClassVar[int]
    vin: str
    plate: str
    application_date: str
    def __init__(self, vin: _Optional[str] = ..., plate: _Optional[str] = ..., application_date: _Optional[str] = ...) -> None: ...

class ExemptionReply(_message.Message):
    __slots__ = ("granted", "refusal_reasons", "regime", "token", "serial", "valid_from", "valid_until", "issuer_province")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASONS_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ISSUER_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    refusal_reasons: _containers.RepeatedScalarFieldContainer[str]
    regime: str
    token: str
    serial: str
    valid_from: str
    valid_until: str
    issuer_province: str
    def __init__(self, granted: _Optional[bool] = ..., refusal_reasons: _Optional[_Iterable[str]] = ..., regime: _Optional[str] = ..., token: _Optional[str] = ..., serial: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., issuer_province: _Optional[str] = ...) -> None: ...

class LabelKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LabelKey(_message.Message):
    __slots__ = ("province", "public_key")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    province: str
    public_key: bytes
    def __init__(self, province: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class LabelKeys(_message.Message):
    __slots__ = ("keys", "trust_list")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[LabelKey]
    trust_list: bytes
    def __init__(self, keys: _Optional[_Iterable[_Union[LabelKey, _Mapping]]] = ..., trust_list: _Optional[bytes] = ...) -> None: ...

class RevocationListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignedRevocationList(_message.Message):
    __slots__ = ("province", "cose")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    COSE_FIELD_NUMBER: _ClassVar[int]
    province: str
    cose: bytes
    def __init__(self, province: _Optional[str] = ..., cose: _Optional[bytes] = ...) -> None: ...

class ExemptionFactsRequest(_message.Message):
    __slots__ = ("vin",)
    VIN_FIELD_NUMBER: _ClassVar[int]
    vin: str
    def __init__(self, vin: _Optional[str] = ...) -> None: ...

class ExemptionFacts(_message.Message):
    __slots__ = ("vin", "plate", "vehicle_class", "use", "seats", "van", "registration_date", "insurance_valid_until", "vehicle_tax_paid", "unresolved_violations", "unresolved_accidents", "casualty_accident")
    VIN_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_CLASS_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    VAN_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_DATE_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_TAX_PAID_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_ACCIDENTS_FIELD_NUMBER: _ClassVar[int]
    CASUALTY_ACCIDENT_FIELD_NUMBER: _ClassVar[int]
    vin: str
    plate: str
    vehicle_class: str
    use: str
    seats: int
    van: bool
    registration_date: str
    insurance_valid_until: str
    vehicle_tax_paid: bool
    unresolved_violations: int
    unresolved_accidents: int
    casualty_accident: bool
    def __init__(self, vin: _Optional[str] = ..., plate: _Optional[str] = ..., vehicle_class: _Optional[str] = ..., use: _Optional[str] = ..., seats: _Optional[int] = ..., van: _Optional[bool] = ..., registration_date: _Optional[str] = ..., insurance_valid_until: _Optional[str] = ..., vehicle_tax_paid: _Optional[bool] = ..., unresolved_violations: _Optional[int] = ..., unresolved_accidents: _Optional[int] = ..., casualty_accident: _Optional[bool] = ...) -> None: ...

class ExemptionLabelRecord(_message.Message):
    __slots__ = ("token", "due_date")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    token: str
    due_date: str
    def __init__(self, token: _Optional[str] = ..., due_date: _Optional[str] = ...) -> None: ...

class ExemptionLabelRecorded(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...
