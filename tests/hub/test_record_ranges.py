"""The hub refuses records whose values no bench can report, naming the field and the range
(``inspection.record_limits``, the table the station checks too): each example from issue 12."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.envelope_check import EnvelopeLimits, KnownKey, RecordRejected, RejectionKind, verify_envelope
from hub.server import HubConfig, HubConfigError, HubServer
from inspection.record_limits import MAX_COUNT, Part
from protos.envelope import key_id_of, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import inspection_pb2 as pb

_PRIVATE = Ed25519PrivateKey.generate()
_KEY = KnownKey(key_id_of("50-0001", _PRIVATE.public_key()), "50-0001", _PRIVATE.public_key())
_RECEIVED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _lamp(message: pb.InspectionRecord) -> pb.LampMeasurement:
    return message.lamps.add(side=pb.SIDE_LEFT, beam=pb.BEAM_HIGH, intensity_cd=20_000, lamp_height_mm=700)


def _co(message: pb.InspectionRecord) -> None:
    message.emission.limit_set = "a"
    message.emission.two_speed_idle.high_idle.add(
        t_s=1,
        hc_ppm=50,
        co_pct=-0.5,
        co2_pct=14,
        o2_pct=0.5,
        no_ppm=10,
        rpm=2500,
        oil_temp_c=80,
        **{"lambda": 1.0},
    )


def _photo(message: pb.InspectionRecord) -> None:
    message.photos.add(sha256="ab" * 32, content_type="image/jpeg", size_bytes=2**64 - 1, item_code="0101")


def _html_photo(message: pb.InspectionRecord) -> None:
    message.photos.add(sha256="ab" * 32, content_type="text/html", size_bytes=2**64 - 1, item_code="0101")


EXAMPLES: dict[str, tuple[Callable[[pb.InspectionRecord], object], str]] = {
    "negative wheel load": (
        lambda m: setattr(m.axles[0], "left_wheel_load_kg", -5.0),
        "axles[0].left_load_kg: -5 is outside the range 0..15000 kg of wheel_load_kg",
    ),
    "negative brake force": (
        lambda m: setattr(m.axles[1].service, "right_max_force_n", -120.0),
        "axles[1].service.right_max_n: -120 is outside the range 0..180000 N of brake_force_n",
    ),
    "negative CO": (_co, "emission.high_idle[0].co_pct: -0.5 is outside the range 0..15 % of co_pct"),
    "lane 0": (lambda m: setattr(m, "lane", 0), "lane: 0 is outside the range 1..99 of lane"),
    "lane 4e9": (lambda m: setattr(m, "lane", 4_000_000_000), "lane: 4000000000 is outside the range 1..99"),
    "lamp of 4e9 cd": (
        lambda m: setattr(_lamp(m), "intensity_cd", 4_000_000_000),
        "lamps[0].intensity_cd: 4000000000 is outside the range 0..150000 cd of luminous_intensity_cd",
    ),
    "sample rate 1e9": (
        lambda m: setattr(m.axles[0].service, "sample_rate_hz", 1_000_000_000),
        "axles[0].service.curve.sample_rate_hz: 1000000000 is outside the range 1..1000 Hz",
    ),
    "curve sample -2^31": (
        lambda m: m.axles[0].service.left_curve_n.__setitem__(3, -(2**31)),
        "axles[0].service.curve.left_n: -2147483648 is outside the range -1000..180000 N of curve_sample_n",
    ),
    "photo of 2^64 bytes": (
        _photo,
        "photos[0].size_bytes: 18446744073709551615 is outside the range 1..20000000 bytes of photo_bytes",
    ),
    "photo typed text/html": (
        _html_photo,
        "photos[0].content_type: 'text/html' is not one of ['image/jpeg']",
    ),
}


def _sealed(make_record, change: Callable[[pb.InspectionRecord], object]) -> pb.SignedRecord:  # type: ignore[no-untyped-def]
    message = pb.InspectionRecord.FromString(record_to_bytes(make_record(0)))
    change(message)
    return seal(message.SerializeToString(), _KEY.key_id, _PRIVATE)


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_out_of_range_values_are_rejected_naming_field_and_range(make_record, example: str) -> None:  # type: ignore[no-untyped-def]
    change, reason = EXAMPLES[example]
    with pytest.raises(RecordRejected) as rejected:
        verify_envelope(_sealed(make_record, change), {_KEY.key_id: _KEY}, EnvelopeLimits(), _RECEIVED)
    assert rejected.value.kind is RejectionKind.OUT_OF_RANGE
    assert reason in rejected.value.reason


def test_a_record_within_every_range_is_accepted(make_record) -> None:  # type: ignore[no-untyped-def]
    verified = verify_envelope(_sealed(make_record, _lamp), {_KEY.key_id: _KEY}, EnvelopeLimits(), _RECEIVED)
    assert verified.record.lamps[0].intensity_cd == 20_000


def test_hub_refuses_more_photos_per_record_than_the_shared_table(database_url: str) -> None:
    with pytest.raises(HubConfigError, match="max_photos_per_record"):
        HubServer(HubConfig(database_url, max_photos_per_record=MAX_COUNT[Part.PHOTOS] + 1))
