"""The identity check (查验) at the destination: what a registry clerk saw of the car, against the
archive that came with it; no I/O.

The clerk records the VIN, engine number and colour they read off the car (and photos, kept by
the caller). Each is compared with the archive's ``data/vehicle.json`` (the source register's
row, engine number and colour included: ``inspection.register_identity``), after the
normalisation a clerk's typing needs: case, spaces, the dots and dashes of stamped numbers, and a
colour by its class whether typed in English, Chinese or as the register's letter (an observed
colour that is none of them is refused, naming the colours). A field the archive does not hold
(a source register that never recorded it) cannot be compared: it is reported as ``unverified``
(recorded, not a mismatch). A VIN always can: the archive is of one VIN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import HubError
from inspection.register_identity import InvalidRegisterField, parse_colour, same_engine_number

# The fields compared, with where the archive holds them: top level or in the register's facts.
COMPARED = ("vin", "engine_number", "colour")
MAX_FIELD_CHARS = 64
_NOISE = re.compile(r"[\s.\-·_/]+")


class BadObservation(HubError):
    """An identity observation that cannot be recorded; the message names the field."""


@dataclass(frozen=True, slots=True)
class Observation:
    vin: str
    engine_number: str
    colour: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    observed: str
    archived: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


@dataclass(frozen=True, slots=True)
class IdentityResult:
    mismatches: tuple[Mismatch, ...]
    unverified: tuple[str, ...]  # fields the archive does not hold

    @property
    def matches(self) -> bool:
        return not self.mismatches


def normalise(value: str) -> str:
    return _NOISE.sub("", value).upper()


def observation(vin: str, engine_number: str, colour: str) -> Observation:
    """The observation, each field checked present and of sane length."""
    values = {"vin": vin, "engine_number": engine_number, "colour": colour}
    for name, value in values.items():
        if not value.strip():
            raise BadObservation(f"{name}: empty (the clerk must record what the car shows)")
        if len(value) > MAX_FIELD_CHARS:
            raise BadObservation(f"{name}: {len(value)} characters, at most {MAX_FIELD_CHARS}")
    try:
        parse_colour(colour)
    except InvalidRegisterField as error:
        raise BadObservation(f"colour: {error.reason}") from error
    return Observation(vin.strip(), engine_number.strip(), colour.strip())


def archived_value(vehicle: Mapping[str, Any], field: str) -> str | None:
    value = vehicle.get(field)
    if value is None and isinstance(vehicle.get("facts"), Mapping):
        value = vehicle["facts"].get(field)
    return None if value is None or str(value).strip() == "" else str(value)


def compare_identity(seen: Observation, vehicle: Mapping[str, Any]) -> IdentityResult:
    """Each field of ``seen`` against the archive's register data ``vehicle`` (vehicle.json)."""
    mismatches: list[Mismatch] = []
    unverified: list[str] = []
    for field in COMPARED:
        observed = getattr(seen, field)
        archived = archived_value(vehicle, field)
        if archived is None:
            if field == "vin":
                mismatches.append(Mismatch(field, observed, "", "the archive names no VIN"))
            else:
                unverified.append(field)
            continue
        if not _same(field, observed, archived):
            mismatches.append(
                Mismatch(
                    field, observed, archived, f"the car shows {observed!r}, the archive says {archived!r}"
                )
            )
    return IdentityResult(tuple(mismatches), tuple(unverified))


def _same(field: str, observed: str, archived: str) -> bool:
    if field == "colour":
        try:
            return parse_colour(observed) is parse_colour(archived)
        except InvalidRegisterField:  # an archive colour no register writes: it cannot match
            return False
    if field == "engine_number":
        return same_engine_number(observed, archived)
    return normalise(observed) == normalise(archived)
