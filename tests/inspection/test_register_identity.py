"""The register's engine number and body colour: every spelling a clerk or a register file uses
reads as one value, and any other text is a typed error naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection.register_identity import (
    ENGINE_NUMBER_MAX,
    BodyColour,
    InvalidRegisterField,
    parse_colour,
    parse_engine_number,
    same_engine_number,
)

_GROUPS = st.lists(
    st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=1, max_size=8), min_size=1, max_size=3
)


@given(st.sampled_from(BodyColour), st.sampled_from(["value", "code", "chinese"]), st.booleans())
def test_every_spelling_of_a_colour_reads_as_it(colour: BodyColour, spelling: str, upper: bool) -> None:
    text = getattr(colour, spelling)
    assert parse_colour(f" {text.upper() if upper else text} ") is colour
    assert parse_colour(colour.value) is colour  # what the register writes reads back


@given(st.text(max_size=20))
def test_any_text_is_a_colour_or_a_typed_error_naming_the_field(text: str) -> None:
    try:
        assert isinstance(parse_colour(text), BodyColour)
    except InvalidRegisterField as error:
        assert error.field == "colour" and "not a register colour" in error.reason


@given(_GROUPS)
def test_an_engine_number_reads_back_as_written_and_matches_its_copies(groups: list[str]) -> None:
    number = "-".join(groups)
    if len(number) > ENGINE_NUMBER_MAX:
        with pytest.raises(InvalidRegisterField, match="at most"):
            parse_engine_number(number)
        return
    assert parse_engine_number(f" {number.lower()} ") == number
    assert parse_engine_number(number) == number
    assert same_engine_number(" ".join(groups).lower(), number)
    assert same_engine_number(".".join(groups), number)


@given(st.text(max_size=40))
def test_any_text_is_an_engine_number_or_a_typed_error_naming_the_field(text: str) -> None:
    try:
        number = parse_engine_number(text)
    except InvalidRegisterField as error:
        assert error.field == "engine_number" and error.value == text
        return
    assert number == number.strip().upper() and 0 < len(number) <= ENGINE_NUMBER_MAX
    assert parse_engine_number(number) == number


def test_a_different_stamp_is_not_the_same_engine_number() -> None:
    assert not same_engine_number("EA888-123457", "EA888-123456")
    with pytest.raises(InvalidRegisterField, match="single dashes"):
        parse_engine_number("EA888--1")
