"""The pure rules of a transfer's last steps: the identity check's comparison and the new plate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.identity_check import BadObservation, compare_identity, observation
from hub.new_plate import NoPlatePrefix, candidate_plates
from inspection import Fuel
from inspection.identifiers import province_code_of_plate, validate_plate

ARCHIVE = {"vin": "LFV2A21K4NA000000", "engine_number": "EA888-123456", "colour": "white"}
# An archive from a register that did not record them (rows imported before the columns existed).
UNRECORDED = {"vin": "LFV2A21K4NA000000", "engine_number": None, "colour": None}


def test_the_clerks_typing_is_forgiven_but_a_different_car_is_named() -> None:
    same = compare_identity(observation(" lfv2a21k4na000000 ", "ea888 123.456", "白色"), ARCHIVE)
    assert same.matches and same.unverified == ()
    other = compare_identity(observation("LFV2A21K4NA000001", "EA888-654321", "J"), ARCHIVE)
    assert [(m.field, m.observed, m.archived) for m in other.mismatches] == [
        ("vin", "LFV2A21K4NA000001", "LFV2A21K4NA000000"),
        ("engine_number", "EA888-654321", "EA888-123456"),
        ("colour", "J", "white"),
    ]
    assert "the car shows 'J'" in str(other.mismatches[2])
    with pytest.raises(BadObservation, match="engine_number: empty"):
        observation("LFV2A21K4NA000000", " ", "red")
    with pytest.raises(BadObservation, match="colour: not a register colour"):
        observation("LFV2A21K4NA000000", "EA888", "pearl white")


def test_a_field_the_source_register_did_not_record_is_unverified_not_a_mismatch() -> None:
    seen = compare_identity(observation("LFV2A21K4NA000000", "EA888-1", "red"), UNRECORDED)
    assert seen.matches and seen.unverified == ("engine_number", "colour")


@settings(deadline=None)
@given(
    st.sampled_from(["50", "51", "44", "11"]), st.text(min_size=1, max_size=36), st.sampled_from(list(Fuel))
)
def test_candidate_plates_are_valid_plates_of_the_province(province: str, seed: str, fuel: Fuel) -> None:
    plates = candidate_plates(province, seed, fuel)
    for _ in range(3):
        plate = next(plates)
        assert validate_plate(plate) == plate and province_code_of_plate(plate) == province
        assert len(plate) == (8 if fuel in (Fuel.ELECTRIC, Fuel.HYBRID_PETROL) else 7)


def test_the_same_seed_proposes_the_same_plates_and_an_unknown_province_is_named() -> None:
    assert (
        list(candidate_plates("51", "t", Fuel.PETROL))[:5]
        == list(candidate_plates("51", "t", Fuel.PETROL))[:5]
    )
    with pytest.raises(NoPlatePrefix, match="'99'"):
        next(candidate_plates("99", "t", Fuel.PETROL))
