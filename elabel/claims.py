"""What a label says, and its CWT claims map (docs/labels.md lists every key).

Standard CWT claims carry what they are for: ``iss`` the issuing hub's province code, ``sub`` the
VIN, ``nbf``/``exp`` the validity, ``iat`` the signing time, ``cti`` the serial. Label-specific
claims use private keys below -65536 (RFC 8392 section 4). Validity is in calendar days of China
Standard Time (UTC+8, no daylight saving): ``nbf`` is 00:00 on the first valid day, ``exp`` is 00:00
on the day after the last valid day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from elabel.errors import ClaimsError
from inspection.vehicle import VehicleClass

CHINA_TIME = timezone(timedelta(hours=8), "CST")

CLAIM_ISS = 1
CLAIM_SUB = 2
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
CLAIM_LABEL_TYPE = -70001
CLAIM_PLATE = -70002
CLAIM_VEHICLE_CLASS = -70003


class LabelType(StrEnum):
    INSPECTION = "inspection"  # a lane inspection was passed
    EXEMPTION = "exemption"  # 免检: the vehicle was granted a label without a lane inspection


@dataclass(frozen=True, slots=True)
class LabelClaims:
    label_type: LabelType
    vin: str
    plate: str
    vehicle_class: VehicleClass
    valid_from: date  # first valid day (China Standard Time)
    valid_until: date  # last valid day, inclusive
    issuer_province: str  # the issuing hub's GB/T 2260 province code
    serial: str  # unique per issuing hub
    issued_at: datetime  # timezone-aware

    @property
    def not_before(self) -> datetime:
        return datetime.combine(self.valid_from, time(), CHINA_TIME)

    @property
    def expires(self) -> datetime:
        return datetime.combine(self.valid_until + timedelta(days=1), time(), CHINA_TIME)

    def to_cwt(self) -> dict[int, Any]:
        return {
            CLAIM_ISS: self.issuer_province,
            CLAIM_SUB: self.vin,
            CLAIM_EXP: int(self.expires.timestamp()),
            CLAIM_NBF: int(self.not_before.timestamp()),
            CLAIM_IAT: int(self.issued_at.timestamp()),
            CLAIM_CTI: self.serial.encode("utf-8"),
            CLAIM_LABEL_TYPE: self.label_type.value,
            CLAIM_PLATE: self.plate,
            CLAIM_VEHICLE_CLASS: self.vehicle_class.value,
        }


def _get(claims: dict[Any, Any], key: int, kind: type) -> Any:
    value = claims.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ClaimsError(f"claim {key} is {type(value).__name__}, not {kind.__name__}")
    return value


def _day(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, CHINA_TIME).date()


def claims_from_cwt(claims: dict[Any, Any]) -> LabelClaims:
    try:
        label_type = LabelType(_get(claims, CLAIM_LABEL_TYPE, str))
        vehicle_class = VehicleClass(_get(claims, CLAIM_VEHICLE_CLASS, str))
    except ValueError as exc:
        raise ClaimsError(str(exc)) from exc
    try:
        serial = _get(claims, CLAIM_CTI, bytes).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClaimsError(f"claim {CLAIM_CTI} (serial) is not UTF-8") from exc
    return LabelClaims(
        label_type=label_type,
        vin=_get(claims, CLAIM_SUB, str),
        plate=_get(claims, CLAIM_PLATE, str),
        vehicle_class=vehicle_class,
        valid_from=_day(_get(claims, CLAIM_NBF, int)),
        valid_until=_day(_get(claims, CLAIM_EXP, int)) - timedelta(days=1),
        issuer_province=_get(claims, CLAIM_ISS, str),
        serial=serial,
        issued_at=datetime.fromtimestamp(_get(claims, CLAIM_IAT, int), UTC),
    )
