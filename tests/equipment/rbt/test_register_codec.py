"""register_codec: round trips per data type and word order, sentinels, and only typed errors."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.errors import RemoteProtocolError
from equipment.register_codec import (
    DataType,
    NotAvailable,
    RegisterEncodeError,
    RegisterKind,
    RegisterSpec,
    WordOrder,
    decode,
    decode_int,
    decode_one,
    encode,
    encode_one,
    values_per_read,
)

specs = st.builds(
    RegisterSpec,
    name=st.just("X"),
    kind=st.sampled_from(RegisterKind),
    address=st.integers(0, 60000),
    data_type=st.sampled_from(DataType),
    scale=st.sampled_from([1.0, 0.1, 0.01, 10.0, 0.5]),
    word_order=st.sampled_from(WordOrder),
    not_available=st.sampled_from([None, 65535, 0, NotAvailable.NAN]),
    length=st.integers(1, 20),
).filter(
    lambda s: (
        (s.not_available is NotAvailable.NAN) == (s.data_type is DataType.FLOAT32) or s.not_available is None
    )
)
words = st.integers(0, 0xFFFF)


def _words_for(spec: RegisterSpec) -> st.SearchStrategy[list[int]]:
    return st.lists(words, min_size=spec.words, max_size=spec.words)


@given(st.data(), specs)
def test_decoded_words_encode_back_to_the_same_words(data: st.DataObject, spec: RegisterSpec) -> None:
    raw = data.draw(_words_for(spec))
    try:
        value = decode_one(spec, raw)
    except RemoteProtocolError:
        return
    if value is None:
        # Every NaN means "not available"; encoding writes one canonical NaN, not the same bits.
        assert decode_one(spec, encode_one(spec, None)) is None
        return
    again = encode_one(spec, value)
    if spec.data_type is DataType.FLOAT32 or spec.scale not in (1.0, 10.0):
        # Scaling through a float may move the raw value by one unit in the last place.
        assert decode_one(spec, again) == pytest.approx(value, rel=1e-6, abs=1e-9)
    else:
        assert again == raw


@given(specs, st.lists(st.integers(-(2**32), 2**32) | st.integers(-0x10000, 0x20000), max_size=4))
def test_arbitrary_words_raise_nothing_but_the_typed_error(spec: RegisterSpec, raw: list[int]) -> None:
    try:
        decode(spec, raw)
    except RemoteProtocolError as error:
        assert error.device == "rbt" and "X" in error.command


@given(specs, st.floats(allow_nan=True, allow_infinity=True) | st.none())
def test_encoding_raises_only_encode_errors(spec: RegisterSpec, value: float | None) -> None:
    try:
        out = encode_one(spec, value)
    except RegisterEncodeError as error:
        assert error.register == "X"
        return
    assert len(out) == spec.words and all(0 <= w <= 0xFFFF for w in out)


@given(st.integers(0, 65534))
def test_uint16_daN_round_trips_exactly(value: int) -> None:
    spec = RegisterSpec("LEFT_FORCE", RegisterKind.HOLDING, 12, DataType.UINT16, not_available=65535)
    assert encode_one(spec, float(value)) == [value]
    assert decode_one(spec, [value]) == value


@given(st.integers(0, 100_000))
def test_rbt_f_float32_newtons_low_word_first(dan: int) -> None:
    spec = RegisterSpec(
        "LEFT_FORCE", RegisterKind.INPUT, 104, DataType.FLOAT32, 0.1, WordOrder.LOW_FIRST, NotAvailable.NAN
    )
    high, low = struct.unpack(">HH", struct.pack(">f", dan * 10.0))
    assert encode_one(spec, float(dan)) == [low, high]
    assert decode_one(spec, [low, high]) == pytest.approx(dan, rel=1e-7)


def test_sentinels_mean_not_available() -> None:
    u16 = RegisterSpec("LOAD", RegisterKind.HOLDING, 10, DataType.UINT16, not_available=65535)
    assert decode_one(u16, [65535]) is None
    assert encode_one(u16, None) == [65535]
    f32 = RegisterSpec("LOAD", RegisterKind.INPUT, 100, DataType.FLOAT32, not_available=NotAvailable.NAN)
    assert decode_one(f32, [0x7FC0, 0x0000]) is None
    with pytest.raises(RegisterEncodeError, match="'not available' value"):
        encode_one(u16, 65535.0)


def test_values_a_device_cannot_mean_are_remote_errors() -> None:
    f32 = RegisterSpec("DRAG", RegisterKind.INPUT, 108, DataType.FLOAT32)
    with pytest.raises(RemoteProtocolError, match="NaN"):
        decode_one(f32, [0x7FC0, 0])
    with pytest.raises(RemoteProtocolError, match="inf"):
        decode_one(f32, [0x7F80, 0])
    count = RegisterSpec("CURVE_SAMPLES", RegisterKind.HOLDING, 20, DataType.UINT16)
    with pytest.raises(RemoteProtocolError, match="16-bit"):
        decode_int(count, [70000])
    with pytest.raises(RemoteProtocolError, match="whole"):
        decode(RegisterSpec("C", RegisterKind.INPUT, 0, DataType.FLOAT32, length=3), [1, 2, 3])


def test_signed_and_32_bit_types() -> None:
    s16 = RegisterSpec("T", RegisterKind.HOLDING, 0, DataType.INT16)
    assert decode_one(s16, [0xFFFF]) == -1 and encode_one(s16, -2) == [0xFFFE]
    u32 = RegisterSpec("T", RegisterKind.HOLDING, 0, DataType.UINT32)
    assert encode_one(u32, 0x12345678) == [0x1234, 0x5678]
    low_first = RegisterSpec("T", RegisterKind.HOLDING, 0, DataType.INT32, word_order=WordOrder.LOW_FIRST)
    assert encode_one(low_first, -2) == [0xFFFE, 0xFFFF]
    assert decode_one(low_first, [0xFFFE, 0xFFFF]) == -2
    with pytest.raises(RegisterEncodeError, match="outside"):
        encode_one(s16, 40000)


def test_arrays_and_read_sizes() -> None:
    curve = RegisterSpec("CURVE_LEFT", RegisterKind.INPUT, 4000, DataType.FLOAT32, 0.1, length=1000)
    assert values_per_read(curve) == 62  # 124 registers: a 125-register read never splits a float32
    assert curve.element_address(3) == 4006 and curve.end == 6000
    assert decode(curve, encode(curve, [1.0, 2.0])) == pytest.approx([1.0, 2.0])
