"""The plates a destination province may give a vehicle it takes over by archive transfer; no I/O.

A plate is the province's character, a city letter and five letters or digits (no I or O:
``inspection.identifiers.validate_plate``). Candidates are derived from a seed (the transfer id),
so two replicas accepting the same transfer propose the same plates in the same order; the caller
takes the first one its register does not hold yet. Electric and hybrid cars get a new-energy
plate (D or F and five more) like the fleet generator's, all others a conventional one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from hub.errors import HubError
from inspection import Fuel
from inspection.identifiers import PROVINCES, validate_plate

_SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_DIGITS = "0123456789"
_PREFIX_OF_PROVINCE = {code: prefix for prefix, code in PROVINCES.items()}
CITY = "A"  # the provincial capital's letter: the registry office that took the transfer
MAX_CANDIDATES = 10_000


class NoPlatePrefix(HubError):
    def __init__(self, province: str) -> None:
        super().__init__(f"province {province!r} has no plate prefix (GB/T 2260 codes: 11..65)")
        self.province = province


def plate_prefix(province: str) -> str:
    try:
        return _PREFIX_OF_PROVINCE[province]
    except KeyError:
        raise NoPlatePrefix(province) from None


def candidate_plates(province: str, seed: str, fuel: Fuel) -> Iterator[str]:
    """``MAX_CANDIDATES`` valid plates of ``province``, in an order fixed by ``seed``."""
    prefix = plate_prefix(province) + CITY
    for attempt in range(MAX_CANDIDATES):
        digest = hashlib.sha256(f"{seed}/{attempt}".encode()).digest()
        if fuel in (Fuel.ELECTRIC, Fuel.HYBRID_PETROL):
            kind = "D" if fuel is Fuel.ELECTRIC else "F"
            serial = kind + _SERIAL_CHARS[digest[0] % len(_SERIAL_CHARS)]
            serial += "".join(_DIGITS[b % 10] for b in digest[1:5])
        else:
            serial = "".join(_SERIAL_CHARS[b % len(_SERIAL_CHARS)] for b in digest[:5])
        yield validate_plate(prefix + serial)
