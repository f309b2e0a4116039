"""Property tests of the EGA/OPM framing and messages: round trips, typed errors only, resynchronisation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment import ega_codec, opm_codec
from equipment.binary_frame_codec import (
    ETX,
    STX,
    Ack,
    ChecksumError,
    Frame,
    FrameDecoder,
    FrameError,
    MessageError,
    Nak,
    encode_frame,
)
from equipment.ega_codec import EgaCommand, GasSample, StatusFlags
from equipment.opm_codec import OpacitySample, OpmCommand, Peak

frames = st.builds(Frame, st.integers(min_value=0, max_value=255), st.binary(max_size=255))
u16 = st.integers(min_value=0, max_value=0xFFFF)
i16 = st.integers(min_value=-0x8000, max_value=0x7FFF)
# Samples built from wire integers, so that the engineering values are exactly representable.
gas_samples = st.builds(
    lambda hc, co, co2, o2, no, lam, rpm, oil, low, dil: GasSample(
        float(hc), co / 100, co2 / 100, o2 / 100, float(no), lam / 1000, float(rpm), oil / 10, low, dil
    ),
    u16, u16, u16, u16, u16, u16, u16, i16, st.booleans(), st.booleans(),
)  # fmt: skip
opacity_samples = st.builds(
    lambda n, k, rpm, oil: OpacitySample(n / 10, k / 100, float(rpm), oil / 10), u16, u16, u16, i16
)
statuses = st.builds(StatusFlags, *(st.booleans() for _ in range(5)))


def decode_all(decoder: FrameDecoder) -> list[Frame | ChecksumError]:
    out: list[Frame | ChecksumError] = []
    while True:
        try:
            frame = decoder.next_frame()
        except ChecksumError as error:
            out.append(error)
            continue
        if frame is None:
            return out
        out.append(frame)


def test_checksum_makes_the_byte_sum_zero() -> None:
    raw = encode_frame(0x03, bytes(range(18)))
    assert raw[0] == STX and raw[-1] == ETX and raw[2] == 18
    assert sum(raw[1:-1]) % 256 == 0
    assert encode_frame(0x01) == bytes((0x02, 0x01, 0x00, 0xFF, 0x03))


@given(frames, st.integers(min_value=1, max_value=9))
def test_frame_round_trip_in_any_chunking(frame: Frame, chunk: int) -> None:
    data = frame.encode()
    decoder = FrameDecoder()
    out = []
    for i in range(0, len(data), chunk):
        decoder.feed(data[i : i + chunk])
        out += decode_all(decoder)
    assert out == [frame]


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(data)
    for item in decode_all(decoder):
        if isinstance(item, Frame):
            for command in EgaCommand:
                with contextlib.suppress(MessageError):
                    ega_codec.decode_reply(item, command)
            for command in OpmCommand:
                with contextlib.suppress(MessageError):
                    opm_codec.decode_reply(item, command)


@given(st.binary(max_size=64).map(lambda b: b.replace(bytes((STX,)), b"")), frames)
def test_resynchronises_after_noise(noise: bytes, frame: Frame) -> None:
    decoder = FrameDecoder()
    decoder.feed(noise + frame.encode())
    assert decode_all(decoder) == [frame]


@given(st.binary(max_size=64), frames)
def test_noise_with_start_bytes_never_hides_the_frame_after_an_idle_line(noise: bytes, frame: Frame) -> None:
    # Noise may contain STX and even chance frames; once the line has been quiet, the next frame
    # is decoded whatever came before.
    decoder = FrameDecoder()
    decoder.feed(noise)
    decode_all(decoder)
    decoder.idle()
    decoder.feed(frame.encode())
    assert decode_all(decoder) == [frame]


@given(frames, frames, st.data())
def test_resynchronises_after_partial_frame(first: Frame, second: Frame, data: st.DataObject) -> None:
    raw = first.encode()
    cut = data.draw(st.integers(min_value=1, max_value=len(raw) - 1))
    decoder = FrameDecoder()
    decoder.feed(raw[:cut])
    assert decode_all(decoder) == []  # a prefix of a frame is never a frame on its own
    decoder.idle()  # the line went quiet: the transport's cue
    assert decoder.pending == 0
    decoder.feed(second.encode())
    assert decode_all(decoder) == [second]


@given(frames, st.integers(min_value=1, max_value=255))
def test_bad_checksum_is_reported_and_decoding_continues(frame: Frame, delta: int) -> None:
    raw = bytearray(frame.encode())
    raw[-2] = (raw[-2] + delta) & 0xFF
    decoder = FrameDecoder()
    decoder.feed(bytes(raw) + encode_frame(0x01, b"\x03"))
    out = decode_all(decoder)
    assert isinstance(out[0], ChecksumError) and out[0].cmd == frame.cmd
    assert out[1:] == [Frame(0x01, b"\x03")]


def test_a_chance_stx_in_noise_is_dropped_without_swallowing_the_frame() -> None:
    decoder = FrameDecoder()
    real = encode_frame(0x03, bytes(18))
    # STX, cmd, LEN=2: a candidate whose "ETX" position falls inside the real frame.
    decoder.feed(bytes((STX, 0x09, 0x02)) + real)
    assert decode_all(decoder) == [Frame(0x03, bytes(18))]


@given(gas_samples)
def test_gas_sample_round_trip(sample: GasSample) -> None:
    decoder = FrameDecoder()
    decoder.feed(ega_codec.encode_sample(sample))
    frame = decoder.next_frame()
    assert frame is not None and len(frame.data) == 18
    assert ega_codec.decode_reply(frame, EgaCommand.READ) == sample


@given(statuses)
def test_status_round_trip(status: StatusFlags) -> None:
    frame = FrameDecoder()
    frame.feed(ega_codec.encode_status(status))
    decoded = frame.next_frame()
    assert decoded is not None
    assert ega_codec.decode_reply(decoded, EgaCommand.STATUS) == status
    assert opm_codec.decode_reply(decoded, OpmCommand.STATUS) == status


@given(opacity_samples, u16)
def test_opacity_round_trip(sample: OpacitySample, peak_raw: int) -> None:
    decoder = FrameDecoder()
    decoder.feed(opm_codec.encode_sample(sample) + opm_codec.encode_peak(Peak(peak_raw / 100)))
    read, peak = decode_all(decoder)
    assert isinstance(read, Frame) and isinstance(peak, Frame)
    assert opm_codec.decode_reply(read, OpmCommand.READ) == sample
    assert opm_codec.decode_reply(peak, OpmCommand.PEAK) == Peak(peak_raw / 100)


def test_acks_and_naks() -> None:
    assert ega_codec.decode_reply(Frame(0x02), EgaCommand.ZERO) == Ack(0x02)
    assert opm_codec.decode_reply(Frame(0x23), OpmCommand.PEAK_RESET) == Ack(0x23)
    assert opm_codec.decode_reply(Frame(0x7F, b"\x03"), OpmCommand.READ) == Nak(3)
    assert Nak(4).text == "busy" and Nak(9).text == "unlisted NAK code 9"


@pytest.mark.parametrize(
    ("frame", "command"),
    [
        (Frame(0x01, b""), EgaCommand.STATUS),  # status needs one byte
        (Frame(0x03, bytes(17)), EgaCommand.READ),
        (Frame(0x01, b"\x00"), EgaCommand.READ),  # a reply to another command
        (Frame(0x7F, b""), EgaCommand.READ),  # a NAK without its code
    ],
)
def test_wrong_content_is_a_message_error(frame: Frame, command: EgaCommand) -> None:
    with pytest.raises(MessageError) as caught:
        ega_codec.decode_reply(frame, command)
    assert isinstance(caught.value, FrameError)


def test_encoding_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        ega_codec.encode_sample(GasSample(70_000, 0, 0, 0, 0, 1, 800, 90))
    with pytest.raises(ValueError):
        opm_codec.encode_sample(OpacitySample(10, 1, 800, -4000))
    with pytest.raises(ValueError):
        encode_frame(0x01, bytes(256))
