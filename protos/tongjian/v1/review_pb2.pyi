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

class ReviewItemState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_ITEM_STATE_UNSPECIFIED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_QUEUED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_CLAIMED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_ESCALATED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_ESCALATED_CLAIMED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_APPROVED: _ClassVar[ReviewItemState]
    REVIEW_ITEM_STATE_REJECTED: _ClassVar[ReviewItemState]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_APPROVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_RELEASE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_ESCALATE: _ClassVar[ReviewDecision]
REVIEW_ITEM_STATE_UNSPECIFIED: ReviewItemState
REVIEW_ITEM_STATE_QUEUED: ReviewItemState
REVIEW_ITEM_STATE_CLAIMED: ReviewItemState
REVIEW_ITEM_STATE_ESCALATED: ReviewItemState
REVIEW_ITEM_STATE_ESCALATED_CLAIMED: ReviewItemState
REVIEW_ITEM_STATE_APPROVED: ReviewItemState
REVIEW_ITEM_STATE_REJECTED: ReviewItemState
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_APPROVE: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
REVIEW_DECISION_RELEASE: ReviewDecision
REVIEW_DECISION_ESCALATE: ReviewDecision

class ReviewReason(_message.Message):
    __slots__ = ("rule", "reason")
    RULE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rule: str
    reason: str
    def __init__(self, rule: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReviewItem(_message.Message):
    __slots__ = ("id", "station_id", "record_id", "vin", "state", "reasons", "sampled", "queued_at", "deadline", "claimed_by", "lease_until", "decided_by", "decision_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    VIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BY_FIELD_NUMBER: _ClassVar[int]
    LEASE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    station_id: str
    record_id: str
    vin: str
    state: ReviewItemState
    reasons: _containers.RepeatedCompositeFieldContainer[ReviewReason]
    sampled: bool
    queued_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    claimed_by: str
    lease_until: _timestamp_pb2.Timestamp
    decided_by: str
    decision_reason: str
    def __init__(self, id: _Optional[int] = ..., station_id: _Optional[str] = ..., record_id: _Optional[str] = ..., vin: _Optional[str] = ..., state: _Optional[_Union[ReviewItemState, str]] = ..., reasons: _Optional[_Iterable[_Union[ReviewReason, _Mapping]]] = ..., sampled: _Optional[bool] = ..., queued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_by: _Optional[str] = ..., lease_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., decision_reason: _Optional[str] = ...) -> None: ...

class ListQueueRequest(_message.Message):
    __slots__ = ("states", "limit")
    STATES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[ReviewItemState]
    limit: int
    def __init__(self, states: _Optional[_Iterable[_Union[ReviewItemState, str]]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListQueueReply(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReviewItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ReviewItem, _Mapping]]] = ...) -> None: ...

class ClaimRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClaimReply(_message.Message):
    __slots__ = ("found", "item")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    found: bool
    item: ReviewItem
    def __init__(self, found: _Optional[bool] = ..., item: _Optional[_Union[ReviewItem, _Mapping]] = ...) -> None: ...

class ShowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class CurveSummary(_message.Message):
    __slots__ = ("run", "sample_rate_hz", "samples", "left_peak_n", "right_peak_n", "slip", "test_counter")
    RUN_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LEFT_PEAK_N_FIELD_NUMBER: _ClassVar[int]
    RIGHT_PEAK_N_FIELD_NUMBER: _ClassVar[int]
    SLIP_FIELD_NUMBER: _ClassVar[int]
    TEST_COUNTER_FIELD_NUMBER: _ClassVar[int]
    run: str
    sample_rate_hz: int
    samples: int
    left_peak_n: int
    right_peak_n: int
    slip: bool
    test_counter: int
    def __init__(self, run: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., samples: _Optional[int] = ..., left_peak_n: _Optional[int] = ..., right_peak_n: _Optional[int] = ..., slip: _Optional[bool] = ..., test_counter: _Optional[int] = ...) -> None: ...

class PhotoHash(_message.Message):
    __slots__ = ("item_code", "sha256")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    sha256: str
    def __init__(self, item_code: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class ShowReply(_message.Message):
    __slots__ = ("item", "record", "hub_verdict", "station_overall", "hub_overall", "curves", "photos", "revoked", "received_at")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    HUB_VERDICT_FIELD_NUMBER: _ClassVar[int]
    STATION_OVERALL_FIELD_NUMBER: _ClassVar[int]
    HUB_OVERALL_FIELD_NUMBER: _ClassVar[int]
    CURVES_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    item: ReviewItem
    record: _inspection_pb2.InspectionRecord
    hub_verdict: _inspection_pb2.Verdict
    station_overall: str
    hub_overall: str
    curves: _containers.RepeatedCompositeFieldContainer[CurveSummary]
    photos: _containers.RepeatedCompositeFieldContainer[PhotoHash]
    revoked: bool
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, item: _Optional[_Union[ReviewItem, _Mapping]] = ..., record: _Optional[_Union[_inspection_pb2.InspectionRecord, _Mapping]] = ..., hub_verdict: _Optional[_Union[_inspection_pb2.Verdict, _Mapping]] = ..., station_overall: _Optional[str] = ..., hub_overall: _Optional[str] = ..., curves: _Optional[_Iterable[_Union[CurveSummary, _Mapping]]] = ..., photos: _Optional[_Iterable[_Union[PhotoHash, _Mapping]]] = ..., revoked: _Optional[bool] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("id", "decision", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    decision: ReviewDecision
    reason: str
    def __init__(self, id: _Optional[int] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("by_state", "open_by_rule", "oldest_open_queued_at", "revoked")
    class ByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class OpenByRuleEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BY_STATE_FIELD_NUMBER: _ClassVar[int]
    OPEN_BY_RULE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_OPEN_QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    by_state: _containers.ScalarMap[str, int]
    open_by_rule: _containers.ScalarMap[str, int]
    oldest_open_queued_at: _timestamp_pb2.Timestamp
    revoked: int
    def __init__(self, by_state: _Optional[_Mapping[str, int]] = ..., open_by_rule: _Optional[_Mapping[str, int]] = ..., oldest_open_queued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[int] = ...) -> None: ...
