"""The dynamometer's device profile: the shipped one is spec 5's table; bad files are refused by key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.dyn_profile import DynQuantity, dyn_profile_from_mapping, load_dyn_profile, parse_dyn_profile
from equipment.errors import ProfileError
from equipment.register_codec import DataType, RegisterKind

SPEC_5 = {
    "STATUS": 0, "COMMAND": 1, "FAULT_CODE": 2, "TEST_COUNTER": 3, "SETPOINT_POWER": 4,
    "SETPOINT_FORCE": 5, "SETPOINT_SPEED": 6, "BASE_INERTIA": 7, "PARASITIC_25": 8,
    "PARASITIC_40": 9, "SPEED": 10, "FORCE": 11, "POWER": 13, "DISTANCE": 14,
    "AID_SPEED": 16, "AID_PEDAL": 17,
}  # fmt: skip


def _text(**override: str) -> str:
    lines = ["[registers]"]
    for name, address in SPEC_5.items():
        entry = override.get(
            name, f'{{ address = {address}, type = "{"int32" if name == "FORCE" else "uint16"}" }}'
        )
        if entry:
            lines.append(f"{name} = {entry}")
    return "\n".join(lines)


def test_the_shipped_profile_is_the_table_of_spec_5() -> None:
    profile = load_dyn_profile("dyn-default")
    assert {q.value: profile[q].address for q in DynQuantity} == SPEC_5
    assert profile[DynQuantity.FORCE].data_type is DataType.INT32
    assert profile[DynQuantity.SPEED].scale == 0.01
    assert all(profile[q].kind is RegisterKind.HOLDING for q in DynQuantity)


@pytest.mark.parametrize(
    ("override", "key", "reason"),
    [
        ({"SPEED": ""}, "registers.SPEED", "missing"),
        (
            {"COMMAND": '{ address = 1, type = "uint16", kind = "input" }'},
            "registers.COMMAND.kind",
            "holding",
        ),
        (
            {"STATUS": '{ address = 0, type = "uint16", scale = 2.0 }'},
            "registers.STATUS.scale",
            "scale must be 1",
        ),
        ({"POWER": '{ address = 12, type = "uint16" }'}, "registers.POWER.address", "also part of FORCE"),
        ({"SPEED": '{ address = 10, type = "uint17" }'}, "registers.SPEED.type", "uint16"),
        ({"SPEED": '{ address = -1, type = "uint16" }'}, "registers.SPEED.address", "greater than"),
        ({"SPEED": '{ address = 10, type = "uint16", colour = 1 }'}, "registers.SPEED.colour", "unknown key"),
        ({"AID_PEDAL": '{ address = 17, type = "float32" }'}, "registers.AID_PEDAL.type", "whole number"),
    ],
)
def test_a_wrong_profile_is_refused_naming_the_key(override: dict[str, str], key: str, reason: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_dyn_profile(_text(**override), file="bad.toml")
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert caught.value.file == "bad.toml"


def test_an_unknown_quantity_and_bad_toml_are_refused() -> None:
    with pytest.raises(ProfileError, match="unknown quantity"):
        parse_dyn_profile(_text() + '\nTORQUE = { address = 30, type = "uint16" }')
    with pytest.raises(ProfileError, match="not valid TOML"):
        parse_dyn_profile("[registers")
    with pytest.raises(ProfileError, match="cannot read"):
        load_dyn_profile("/nonexistent/dyn.toml")


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from([q.value for q in DynQuantity] + ["BOGUS"]),
        st.fixed_dictionaries(
            {
                "address": st.integers(-5, 70_000),
                "type": st.sampled_from(["uint16", "int32", "float32", "x"]),
            },
            optional={
                "scale": st.floats(allow_nan=True),
                "kind": st.sampled_from(["holding", "input", "coil"]),
            },
        ),
    )
)
def test_any_profile_table_loads_or_is_refused_with_a_profile_error(
    registers: dict[str, dict[str, object]],
) -> None:
    try:
        profile = dyn_profile_from_mapping({"registers": registers}, file="fuzz.toml")
    except ProfileError as error:
        assert error.file == "fuzz.toml"
    else:
        assert set(profile.registers) == set(DynQuantity)
