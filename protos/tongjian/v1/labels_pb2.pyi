from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[LabelKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[LabelKey, _Mapping]]] = ...) -> None: ...

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
