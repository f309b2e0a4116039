"""The identity check (查验) at the destination: what a registry clerk saw of the car, against the
archive that came with it; no I/O.

The clerk records the VIN, engine number and colour they read off the car (and photos, kept by
the caller). Each is compared with the archive's ``data/vehicle.json``, after the normalisation a
clerk's typing needs (case, spaces, the dots and dashes of stamped numbers). A field the archive
does not hold cannot be compared: it is reported as ``unverified`` (recorded, not a mismatch),
because a source register that never held the engine number cannot prove or disprove one.
A VIN always can: the archive is of one VIN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import HubError

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
        if normalise(observed) != normalise(archived):
            mismatches.append(
                Mismatch(
                    field, observed, archived, f"the car shows {observed!r}, the archive says {archived!r}"
                )
            )
    return IdentityResult(tuple(mismatches), tuple(unverified))
