"""Device profiles: the shipped two match spec 1.2 / 1.4; every kind of mistake is refused by name."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.errors import ProfileError
from equipment.rbt_profile import Quantity, load_profile, parse_profile
from equipment.register_codec import DataType, NotAvailable, RegisterKind, WordOrder


def _default_data() -> dict[str, Any]:
    text = resources.files("equipment").joinpath("profiles", "default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _toml(data: dict[str, Any]) -> str:
    """Just enough TOML writing for a profile (top-level scalars, [registers.NAME] tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.get("registers", {}).items():
        lines.append(f"[registers.{name}]")
        lines += [f"{k} = {value(v)}" for k, v in table.items()] if isinstance(table, dict) else []
    return "\n".join(lines) + "\n"


def test_default_profile_is_the_table_of_spec_1_2() -> None:
    profile = load_profile("default")
    expected = {
        Quantity.STATUS: 0, Quantity.COMMAND: 1, Quantity.FAULT_CODE: 2, Quantity.TEST_COUNTER: 3,
        Quantity.LEFT_WHEEL_LOAD: 10, Quantity.RIGHT_WHEEL_LOAD: 11, Quantity.LEFT_FORCE: 12,
        Quantity.RIGHT_FORCE: 13, Quantity.LEFT_DRAG: 14, Quantity.RIGHT_DRAG: 15,
        Quantity.CURVE_SAMPLES: 20, Quantity.CURVE_RATE: 21, Quantity.CURVE_LEFT: 1000, Quantity.CURVE_RIGHT: 2000,
    }  # fmt: skip
    for quantity, address in expected.items():
        spec = profile[quantity]
        assert (spec.address, spec.kind, spec.data_type, spec.scale) == (
            address, RegisterKind.HOLDING, DataType.UINT16, 1.0,
        )  # fmt: skip
    assert profile[Quantity.LEFT_FORCE].not_available == 65535
    assert profile[Quantity.TEST_COUNTER].not_available is None
    assert profile[Quantity.CURVE_RIGHT].end == 3000


def test_rbt_f_profile_is_the_table_of_spec_1_4() -> None:
    profile = load_profile("rbt-f")
    assert profile[Quantity.STATUS].kind is RegisterKind.HOLDING and profile[Quantity.STATUS].address == 0
    assert profile[Quantity.COMMAND].kind is RegisterKind.HOLDING and profile[Quantity.COMMAND].address == 1
    for quantity, address, scale in [
        (Quantity.LEFT_WHEEL_LOAD, 100, 1.0), (Quantity.RIGHT_WHEEL_LOAD, 102, 1.0),
        (Quantity.LEFT_FORCE, 104, 0.1), (Quantity.RIGHT_FORCE, 106, 0.1),
        (Quantity.LEFT_DRAG, 108, 0.1), (Quantity.RIGHT_DRAG, 110, 0.1),
        (Quantity.CURVE_LEFT, 4000, 0.1), (Quantity.CURVE_RIGHT, 6000, 0.1),
    ]:  # fmt: skip
        spec = profile[quantity]
        assert (spec.kind, spec.address, spec.data_type, spec.scale) == (
            RegisterKind.INPUT, address, DataType.FLOAT32, scale,
        )  # fmt: skip
        assert spec.word_order is WordOrder.LOW_FIRST and spec.not_available is NotAvailable.NAN
    assert profile[Quantity.CURVE_LEFT].element_address(999) == 5998
    assert (profile[Quantity.CURVE_SAMPLES].address, profile[Quantity.CURVE_RATE].address) == (120, 121)
    assert profile[Quantity.FAULT_CODE].kind is RegisterKind.INPUT


def _mutated(path: tuple[str, ...], new: Any = None, *, delete: bool = False) -> dict[str, Any]:
    data = _default_data()
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return data


MISTAKES = [
    (("registers", "LEFT_FORCE", "type"), "uint12", False, "registers.LEFT_FORCE.type", "not a data type"),
    (("registers", "LEFT_FORCE", "kind"), "coil", False, "registers.LEFT_FORCE.kind", "not 'holding' or 'input'"),
    (("registers", "LEFT_DRAG", "address"), 13, False, "registers.LEFT_DRAG.address", "also part of RIGHT_FORCE"),
    (("registers", "CURVE_LEFT", "address"), 1500, False, "registers.CURVE_RIGHT.address", "also part of CURVE_LEFT"),
    (("word_order",), "middle_endian", False, "word_order", "not a word order"),
    (("registers", "RIGHT_DRAG"), None, True, "registers.RIGHT_DRAG", "missing"),
    (("registers", "LEFT_FORCE", "address"), None, True, "registers.LEFT_FORCE.address", "missing"),
    (("registers", "LEFT_FORCE", "colour"), "red", False, "registers.LEFT_FORCE.colour", "unknown key"),
    (("registers", "BRAKE_TEMP"), {"kind": "holding", "address": 50, "type": "uint16"}, False,
     "registers.BRAKE_TEMP", "unknown quantity"),
    (("registers", "STATUS", "kind"), "input", False, "registers.STATUS.kind", "must be a holding register"),
    (("registers", "TEST_COUNTER", "type"), "float32", False, "registers.TEST_COUNTER.type", "whole number"),
    (("registers", "LEFT_FORCE", "scale"), 0, False, "registers.LEFT_FORCE.scale", "positive"),
    (("registers", "LEFT_FORCE", "not_available"), "nan", False, "registers.LEFT_FORCE.not_available", "integer"),
    (("registers", "CURVE_LEFT", "length"), None, True, "registers.CURVE_LEFT.length", "missing"),
    (("registers", "CURVE_LEFT", "length"), 1001, False, "registers.CURVE_LEFT.length", "outside 1..1000"),
    (("registers", "LEFT_FORCE", "word_order"), "low_first", False, "registers.LEFT_FORCE.word_order", "one word"),
    (("registers", "CURVE_RIGHT", "address"), 65000, False, "registers.CURVE_RIGHT", "past address 65535"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "new", "delete", "key", "reason"), MISTAKES, ids=[m[3] + ":" + m[4] for m in MISTAKES]
)
def test_each_mistake_is_refused_with_file_key_and_reason(
    tmp_path: Path, path: tuple[str, ...], new: Any, delete: bool, key: str, reason: str
) -> None:
    file = tmp_path / "vendor.toml"
    file.write_text(_toml(_mutated(path, new, delete=delete)), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(file))
    assert caught.value.file == str(file)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_not_toml_and_missing_file_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "broken.toml"
    file.write_text("[registers.STATUS\nkind = ", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML") as caught:
        load_profile(str(file))
    assert caught.value.file == str(file)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(str(tmp_path / "absent.toml"))


def test_a_profile_file_written_out_loads_like_the_shipped_one(tmp_path: Path) -> None:
    file = tmp_path / "copy.toml"
    file.write_text(_toml(_default_data()), encoding="utf-8")
    assert load_profile(str(file)).registers == load_profile("default").registers


_scalars = st.one_of(
    st.integers(-5, 70000), st.floats(allow_nan=True), st.booleans(), st.text(max_size=12),
    st.sampled_from(["holding", "input", "uint16", "int32", "float32", "nan", "low_first", "high_first"]),
    st.lists(st.integers(), max_size=2),
)  # fmt: skip
_keys = st.sampled_from(
    ["kind", "address", "type", "scale", "not_available", "length", "word_order", "other"]
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(Quantity)), _keys, _scalars)
def test_any_single_change_loads_or_raises_only_profile_error(quantity: Quantity, key: str, new: Any) -> None:
    text = _toml(_mutated(("registers", quantity.value, key), new))
    try:
        profile = parse_profile(text, file="mutant.toml")
    except ProfileError as error:
        # key "" only for text our little TOML writer made unparsable (control characters).
        assert error.file == "mutant.toml"
        assert quantity.value in f"{error.key} {error.reason}" or "not valid TOML" in error.reason
        return
    assert set(profile.registers) == set(Quantity)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_profile_error(text: str) -> None:
    with pytest.raises(ProfileError):
        parse_profile(text, file="noise.toml")


def test_the_description_a_profile_gives_is_kept() -> None:
    # It was read and checked, then dropped on the way to RbtProfile.
    assert load_profile("rbt-f").description.startswith("RBT-F roller brake tester")
    assert load_profile("default").description.startswith("Reference roller brake tester")


def test_an_unknown_top_level_key_and_a_non_table_register_are_named() -> None:
    data = _default_data()
    data["colour"] = "red"
    with pytest.raises(ProfileError) as caught:
        parse_profile(_toml(data), file="p.toml")
    assert (caught.value.key, caught.value.reason.split(";")[0]) == ("colour", "unknown key")
    text = _toml(_default_data()) + "[registers]\n"
    with pytest.raises(ProfileError):
        parse_profile(text.replace("[registers.STATUS]", "[registers.X]"), file="p.toml")


_toml_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_paths = st.sampled_from(
    [("name",), ("description",), ("word_order",), ("registers",), ("other",), ("registers", "STATUS"),
     ("registers", "CURVE_LEFT"), ("registers", "NEW"), ("registers", "LEFT_FORCE", "scale"),
     ("registers", "CURVE_RIGHT", "length"), ("registers", "RIGHT_DRAG", "not_available")]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_paths, st.booleans(), _toml_values), min_size=1, max_size=4))
def test_mutated_tables_load_or_raise_only_profile_error(
    changes: list[tuple[tuple[str, ...], bool, Any]],
) -> None:
    from equipment.rbt_profile import profile_from_mapping

    data = _default_data()
    for path, delete, new in changes:
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            if delete:
                del target[path[-1]]
            else:
                target[path[-1]] = new
        except (KeyError, TypeError):
            continue  # the path no longer exists in this draw
    try:
        profile = profile_from_mapping(data, file="mutant.toml")
    except ProfileError as error:
        assert error.file == "mutant.toml" and error.reason
        return
    assert set(profile.registers) == set(Quantity)
