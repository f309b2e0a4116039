"""Property tests for the ELM327 parsers: the adapter's answer framing, the VIN, the request lines.

The simulator's CAN framing is checked against python-OBD's own protocol parser, so the answers
the simulator gives are the answers a real adapter gives, as far as the library that reads them
can tell.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from obd.protocols import ISO_15765_4_11bit_500k

from equipment.obd_driver import PromptDecoder, answer_lines, vin_from_service09
from simulators.elm327 import (
    Elm327,
    Elm327RequestError,
    can_frames,
    format_can_answer,
    parse_obd_request,
)
from simulators.obd_sim import ObdScenario, encode_dtc

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
vins = st.text(VIN_ALPHABET, min_size=17, max_size=17)


@given(st.binary(min_size=1, max_size=200), st.booleans())
def test_can_answers_parse_back_with_python_obd(payload: bytes, spaces: bool) -> None:
    # python-OBD 0.7.3 raises IndexError on a lone 43 (service 03 without its count byte); the
    # driver turns that into ObdAnswerUnreadable. Here only answers it can parse are compared.
    assume(not (payload[0] == 0x43 and len(payload) < 2))
    lines = format_can_answer(payload, headers=True, spaces=spaces)
    protocol = ISO_15765_4_11bit_500k([])
    messages = [m for m in protocol(lines) if m.frames[0].data]
    assert len(messages) == 1
    expected = payload
    if payload[0] == 0x43:  # python-OBD cuts service 03 answers to their DTC count
        expected = payload[: 2 + 2 * payload[1]] if len(payload) > 1 else payload
    assert bytes(messages[0].data) == expected


@given(st.binary(min_size=1, max_size=4095))
def test_iso_tp_frames_carry_the_payload(payload: bytes) -> None:
    frames = can_frames(payload)
    assert all(1 <= len(frame) <= 8 for frame in frames)
    if len(frames) == 1:
        assert frames[0][1:] == payload
    else:
        joined = frames[0][2:] + b"".join(frame[1:] for frame in frames[1:])
        assert joined == payload and ((frames[0][0] & 0x0F) << 8 | frames[0][1]) == len(payload)


def test_a_payload_iso_tp_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="4096"):
        can_frames(bytes(4096))


@given(st.binary(max_size=300))
def test_answer_lines_never_fail_and_hold_no_line_breaks(answer: bytes) -> None:
    lines = answer_lines(answer)
    assert all(line and "\r" not in line and "\n" not in line and line == line.strip() for line in lines)


@given(st.lists(st.binary(max_size=40).filter(lambda b: b">" not in b), min_size=1, max_size=5), st.data())
def test_prompt_decoder_splits_at_each_prompt_however_the_bytes_arrive(
    answers: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(answer + b">" for answer in answers)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    decoder = PromptDecoder()
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        decoder.feed(stream[start:end])
        while (frame := decoder.next_frame()) is not None:
            got.append(frame)
    assert got == [answer_lines(answer) for answer in answers]
    assert decoder.pending == 0


@given(vins, st.integers(0, 3))
def test_vin_is_read_from_a_service_09_answer_with_any_padding(vin: str, nuls: int) -> None:
    data = bytes([0x49, 0x02, 0x01]) + bytes(nuls) + vin.encode() + bytes(22 - 20)
    assert vin_from_service09(data) == vin


@given(st.binary(max_size=30))
def test_vin_parser_refuses_anything_else_with_a_value_error(data: bytes) -> None:
    try:
        vin = vin_from_service09(data)
    except ValueError:
        return
    assert len(vin) == 17 and all(c in VIN_ALPHABET for c in vin)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes([0x41, 0x02, 0x01]) + b"LSVAU2180N2183251", "not a service 09"),
        (bytes([0x49, 0x02, 0x01]) + b"LSVAU2180N218325", "16 characters"),
        (bytes([0x49, 0x02, 0x01]) + b"LSVAU2180N21832I1", "cannot have"),
    ],
)
def test_vin_parser_says_what_is_wrong(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        vin_from_service09(data)


@given(st.binary(min_size=1, max_size=6), st.one_of(st.none(), st.integers(1, 15)))
def test_obd_request_lines_round_trip(body: bytes, frames: int | None) -> None:
    line = body.hex().upper() + ("" if frames is None else f"{frames:X}")
    request = parse_obd_request(line)
    assert (bytes([request.service]) + request.data, request.expected_frames) == (body, frames)


@given(st.text(max_size=20))
def test_any_request_text_is_parsed_or_refused_by_name(text: str) -> None:
    try:
        parse_obd_request(text)
    except Elm327RequestError as error:
        assert "OBD request" in str(error)


@given(st.text(max_size=20))
def test_the_adapter_answers_every_line_with_a_prompt(text: str) -> None:
    adapter = Elm327(ObdScenario.mil_off().answer)
    adapter.handle("ATE0")  # an echoed ">" would be the host's own, not a prompt
    answer = adapter.handle(text.replace("\r", ""))
    assert answer.endswith(b">") and answer.count(b">") == 1


@given(st.sampled_from("PCBU"), st.sampled_from("0123"), st.text("0123456789ABCDEF", min_size=3, max_size=3))
def test_dtcs_encode_as_python_obd_decodes_them(letter: str, digit: str, rest: str) -> None:
    from obd.decoders import parse_dtc

    code = letter + digit + rest
    if code == "P0000":
        with pytest.raises(ValueError, match="padding"):
            encode_dtc(code)
        return
    decoded = parse_dtc(tuple(encode_dtc(code)))
    # python-OBD prints the hex digits in lower case ("P0a80"); the driver upper-cases them.
    assert decoded is not None and decoded[0].upper() == code
