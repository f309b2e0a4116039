"""Property tests of the headlight tester codec: round trips, typed errors only, resynchronisation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.hlt_codec import (
    Beam,
    ErrReply,
    HltChecksumError,
    HltCodecError,
    HltDecoder,
    HltMessageError,
    HltState,
    IdReply,
    IdRequest,
    LampReading,
    MeasRequest,
    Side,
    StatReply,
    StatRequest,
    encode,
    frame_body,
    parse_reply,
    parse_request,
    xor_checksum,
)

field_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="$*,"),
    min_size=1,
    max_size=16,
)
mm = st.integers(min_value=-99_999, max_value=99_999)
requests = st.one_of(
    st.just(IdRequest()),
    st.just(StatRequest()),
    st.builds(MeasRequest, st.sampled_from(Side), st.sampled_from(Beam)),
)
replies = st.one_of(
    st.builds(IdReply, field_text, field_text, field_text),
    st.builds(StatReply, st.sampled_from(HltState)),
    st.builds(
        LampReading,
        st.sampled_from(Side),
        st.sampled_from(Beam),
        st.integers(min_value=0, max_value=200_000),
        mm,
        mm,
        mm,
    ),
    st.builds(ErrReply, st.integers(min_value=0, max_value=99), field_text | st.just("no lamp, left")),
)
# Noise that cannot contain a frame start.
noise = st.binary(max_size=64).map(lambda b: b.replace(b"$", b""))


def decode_all(decoder: HltDecoder) -> list[bytes | HltCodecError]:
    out: list[bytes | HltCodecError] = []
    while True:
        try:
            body = decoder.next_frame()
        except HltChecksumError as error:
            out.append(error)
            continue
        if body is None:
            return out
        out.append(body)


def test_spec_example_checksum() -> None:
    # XOR of "ERR,1,checksum" computed by hand from the spec's own example reply.
    assert (
        frame_body("ERR,1,checksum")
        == b"$ERR,1,checksum*" + f"{xor_checksum(b'ERR,1,checksum'):02X}".encode() + b"\r\n"
    )
    assert (
        encode(StatRequest())
        == b"$STAT*" + f"{ord('S') ^ ord('T') ^ ord('A') ^ ord('T'):02X}".encode() + b"\r\n"
    )


@given(requests)
def test_request_round_trip(request: IdRequest | StatRequest | MeasRequest) -> None:
    decoder = HltDecoder()
    decoder.feed(encode(request))
    body = decoder.next_frame()
    assert body is not None
    assert parse_request(body) == request
    assert decoder.next_frame() is None


@given(replies, st.integers(min_value=1, max_value=7))
def test_reply_round_trip_in_any_chunking(reply: object, chunk: int) -> None:
    data = encode(reply)  # type: ignore[arg-type]
    decoder = HltDecoder()
    bodies = []
    for i in range(0, len(data), chunk):
        decoder.feed(data[i : i + chunk])
        bodies += decode_all(decoder)
    assert [parse_reply(b) for b in bodies] == [reply]  # type: ignore[arg-type]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    decoder = HltDecoder()
    decoder.feed(data)
    for item in decode_all(decoder):
        if isinstance(item, bytes):
            for parse in (parse_request, parse_reply):
                with contextlib.suppress(HltMessageError):
                    parse(item)


@given(noise, replies)
def test_resynchronises_after_noise(garbage: bytes, reply: object) -> None:
    decoder = HltDecoder()
    decoder.feed(garbage + encode(reply))  # type: ignore[arg-type]
    assert [parse_reply(b) for b in decode_all(decoder)] == [reply]  # type: ignore[arg-type]
    assert decoder.discarded >= len(garbage)


@given(replies, replies, st.data())
def test_resynchronises_after_partial_frame(first: object, second: object, data: st.DataObject) -> None:
    frame = encode(first)  # type: ignore[arg-type]
    cut = data.draw(st.integers(min_value=1, max_value=len(frame) - 1))
    decoder = HltDecoder()
    decoder.feed(frame[:cut] + encode(second))  # type: ignore[arg-type]
    assert [parse_reply(b) for b in decode_all(decoder)] == [second]  # type: ignore[arg-type]


@given(replies, st.integers(min_value=1, max_value=255))
def test_bad_checksum_is_reported_then_decoding_continues(reply: object, flip: int) -> None:
    body = encode(reply)[1:-5]  # type: ignore[arg-type]
    bad = b"$" + body + b"*" + f"{xor_checksum(body) ^ flip:02X}".encode() + b"\r\n"
    decoder = HltDecoder()
    decoder.feed(bad + encode(StatReply(HltState.READY)))
    with pytest.raises(HltChecksumError) as caught:
        decoder.next_frame()
    assert caught.value.body == body
    assert parse_reply(decoder.next_frame() or b"") == StatReply(HltState.READY)


def test_lower_case_checksum_accepted_and_overlong_line_dropped() -> None:
    decoder = HltDecoder()
    decoder.feed(frame_body("STAT,READY").lower().replace(b"$stat,ready", b"$STAT,READY"))
    assert decoder.next_frame() == b"STAT,READY"
    decoder.feed(b"$" + b"A" * 400)
    assert decoder.next_frame() is None
    assert decoder.pending == 0


@pytest.mark.parametrize(
    "body", [b"RES,L,H,1,2,3", b"RES,X,H,1,2,3,4", b"RES,L,H,+1,2,3,4", b"STAT,SLEEPY", b"\xff", b"ERR,x,y"]
)
def test_malformed_bodies_are_message_errors(body: bytes) -> None:
    with pytest.raises(HltMessageError):
        parse_reply(body)


@pytest.mark.parametrize("bad", [IdReply("a,b", "1"), IdReply("x", "$"), ErrReply(4, "a*b")])
def test_encoding_refuses_fields_that_break_framing(bad: object) -> None:
    with pytest.raises(ValueError):
        encode(bad)  # type: ignore[arg-type]
