"""VIN check digits and plate formats (GB 16735 / ISO 3779; GA 36 plates)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection import (
    InvalidIdentifier,
    province_code_of_plate,
    validate_plate,
    validate_vin,
    vin_check_digit,
)
from inspection.identifiers import VIN_ALPHABET


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP042788",  # the classic worked example of the North American check digit (same algorithm)
        "11111111111111111",  # all ones: sum of weights 89 = 8*11 + 1 -> check digit 1
        "LSGPC54U3BF123456",  # weighted sum 333 = 30*11 + 3 -> check digit 3
    ],
)
def test_known_valid_vins(vin: str) -> None:
    assert validate_vin(vin) == vin


def test_check_digit_by_hand() -> None:
    # 1M8GDM9A?KP042788: values 1 4 8 7 4 4 9 1 . 2 7 0 4 2 7 8 8 with weights 8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2
    # = 8+28+48+35+16+12+18+10+0+18+56+0+24+10+28+24+16 = 351; 351 mod 11 = 10 -> "X".
    assert vin_check_digit("1M8GDM9A0KP042788") == "X"


@pytest.mark.parametrize(
    ("vin", "reason"),
    [
        ("1M8GDM9A1KP042788", "check digit"),
        ("1M8GDM9AXKP04278", "16 characters"),
        ("1M8GDM9AXKP04278O", "'O'"),
        ("IM8GDM9AXKP042788", "'I'"),
    ],
)
def test_invalid_vins_say_why(vin: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as caught:
        validate_vin(vin)
    assert caught.value.field == "vin"


@given(st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17))
def test_any_vin_with_its_check_digit_validates(draft: str) -> None:
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    assert validate_vin(vin) == vin
    wrong = "0" if vin[8] != "0" else "1"
    with pytest.raises(InvalidIdentifier):
        validate_vin(vin[:8] + wrong + vin[9:])


@given(st.text(max_size=30))
def test_arbitrary_text_gives_only_invalid_identifier(text: str) -> None:
    for validate in (validate_vin, validate_plate):
        with contextlib.suppress(InvalidIdentifier):
            validate(text)


@pytest.mark.parametrize(
    ("plate", "code"), [("渝A12345", "50"), ("川A·D12345", "51"), ("京N 8F3K2", "11"), ("粤BF12345", "44")]
)
def test_valid_plates(plate: str, code: str) -> None:
    assert province_code_of_plate(plate) == code


@pytest.mark.parametrize(
    ("plate", "reason"),
    [
        ("渝I12345", "city letter"),
        ("渝A1234", "5 or 6"),
        ("X A12345", "province"),
        ("哈A12345", "unknown province"),
    ],
)
def test_invalid_plates(plate: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        validate_plate(plate)
