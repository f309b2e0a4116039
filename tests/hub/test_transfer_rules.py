"""The pure rules of a transfer's last steps: the identity check's comparison and the new plate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.identity_check import BadObservation, compare_identity, observation
from hub.new_plate import NoPlatePrefix, candidate_plates
from inspection import Fuel
from inspection.identifiers import province_code_of_plate, validate_plate

ARCHIVE = {"vin": "LFV2A21K4NA000000", "facts": {"colour": "Pearl White"}}


def test_the_clerks_typing_is_forgiven_but_a_different_car_is_named() -> None:
    same = compare_identity(observation(" lfv2a21k4na000000 ", "EA888 123", "pearl-white"), ARCHIVE)
    assert same.matches and same.unverified == ("engine_number",)
    other = compare_identity(observation("LFV2A21K4NA000001", "EA888", "red"), ARCHIVE)
    assert [(m.field, m.archived) for m in other.mismatches] == [
        ("vin", "LFV2A21K4NA000000"),
        ("colour", "Pearl White"),
    ]
    assert "the car shows 'red'" in str(other.mismatches[1])
    with pytest.raises(BadObservation, match="engine_number: empty"):
        observation("LFV2A21K4NA000000", " ", "red")


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
