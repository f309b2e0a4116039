"""The bag on the wire: safe file lists (property-tested parser), chunks from any position grouped
into messages the generated protobuf parses, and a staging directory, written behind the event
loop by one thread, that resumes from the last confirmed position and refuses bytes out of place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.archive_exchange import parse_transfer_id
from hub.archive_stream import (
    ArchiveStreamError,
    BadBagChunk,
    BadBagPath,
    BagFile,
    ChunkOutOfPlace,
    Position,
    StagingBag,
    bag_files,
    decode_bag_chunk,
    encode_bag_chunk,
    messages,
    parse_bag_path,
    parse_file_list,
    read_chunks,
)
from hub.staging_writer import StagingWriter
from protos.tongjian.v1 import archive_pb2

_PART = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:\0"), min_size=1, max_size=12
)


@settings(deadline=None)
@given(st.lists(_PART, min_size=1, max_size=6))
def test_a_path_of_ordinary_parts_parses_as_itself(parts: list[str]) -> None:
    path = "/".join(parts)
    if any(part in (".", "..") for part in parts) or any(not c.isprintable() for c in path):
        with pytest.raises(BadBagPath):
            parse_bag_path(path)
    else:
        assert parse_bag_path(path) == path


@settings(deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_naming_it_and_never_leaves_the_bag(text: str) -> None:
    try:
        parsed = parse_bag_path(text)
    except BadBagPath as error:
        assert repr(text) in str(error)
        return
    resolved = (Path("/bag") / parsed).resolve()
    assert resolved.is_relative_to(Path("/bag")) and resolved != Path("/bag")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("data/../../x", "'..' part"),
        ("data//x", "empty"),
        ("data\\x", "contains"),
        ("a" * 600, "at most"),
    ],
)
def test_unsafe_paths_are_refused_saying_why(path: str, words: str) -> None:
    with pytest.raises(BadBagPath, match=words):
        parse_bag_path(path)


def test_a_file_list_with_duplicates_or_a_file_used_as_directory_is_refused() -> None:
    with pytest.raises(BadBagPath, match="twice"):
        parse_file_list([("data/a", 1), ("data/a", 2)])
    with pytest.raises(BadBagPath, match="both a file and a directory"):
        parse_file_list([("data/a", 1), ("data/a/b", 2)])
    with pytest.raises(BadBagPath, match="size"):
        parse_file_list([("data/a", -1)])
    assert parse_file_list([("bagit.txt", 3)]) == [BagFile("bagit.txt", 3)]


@settings(deadline=None)
@given(st.text(max_size=40))
def test_transfer_ids_are_canonical_uuids(text: str) -> None:
    try:
        assert parse_transfer_id(text) == text
    except ValueError as error:
        assert repr(text) in str(error)


def _bag(tmp_path: Path) -> tuple[Path, list[BagFile]]:
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\n")
    (bag / "data" / "empty").write_bytes(b"")
    (bag / "data" / "photo.jpg").write_bytes(os.urandom(10_000))
    return bag, bag_files(bag)


def test_chunks_from_any_position_rebuild_the_bag_through_a_resumed_staging(tmp_path: Path) -> None:
    bag, files = _bag(tmp_path)
    assert [f.path for f in files] == ["bagit.txt", "data/empty", "data/photo.jpg"]
    staging = StagingBag(tmp_path / "staging", files, Position(0, 0))
    chunks = read_chunks(bag, files, Position(0, 0), chunk_bytes=1000)
    for index, offset, data in chunks:
        staging.write(index, offset, data)
        if staging.position == Position(2, 4000):
            break
    confirmed = staging.sync()
    # More arrives but is never confirmed: a restart cuts it away and resumes at the confirmed point.
    staging.write(*next(chunks))
    staging.close()
    resumed = StagingBag(tmp_path / "staging", files, confirmed)
    assert (tmp_path / "staging" / "data/photo.jpg").stat().st_size == 4000
    for index, offset, data in read_chunks(bag, files, confirmed, chunk_bytes=1000):
        resumed.write(index, offset, data)
    resumed.sync()
    resumed.close()
    assert resumed.complete and resumed.bytes_before(resumed.position) == sum(f.size for f in files)
    for file in files:
        assert (tmp_path / "staging" / file.path).read_bytes() == (bag / file.path).read_bytes()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc/self/fd")
def test_a_resumed_staging_bag_removes_unconfirmed_files_and_leaves_no_descriptor_open(
    tmp_path: Path,
) -> None:
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    for number in range(10):
        (bag / "data" / f"{number}.jpg").write_bytes(os.urandom(100))
    files = bag_files(bag)
    descriptors = len(os.listdir("/proc/self/fd"))
    staging = StagingBag(tmp_path / "staging", files, Position(0, 0))
    staging.write(0, 0, (bag / files[0].path).read_bytes())
    staging.write(1, 0, (bag / files[1].path).read_bytes()[:50])
    confirmed = staging.sync()
    staging.close()
    assert len(os.listdir("/proc/self/fd")) == descriptors
    resumed = StagingBag(tmp_path / "staging", files, confirmed)
    assert sorted(path.name for path in (tmp_path / "staging" / "data").iterdir()) == ["0.jpg", "1.jpg"]
    for index, offset, data in read_chunks(bag, files, confirmed):
        resumed.write(index, offset, data)
    resumed.close()
    assert len(os.listdir("/proc/self/fd")) == descriptors
    for file in files:
        assert (tmp_path / "staging" / file.path).read_bytes() == (bag / file.path).read_bytes()


def test_bytes_out_of_place_are_refused(tmp_path: Path) -> None:
    bag, files = _bag(tmp_path)
    staging = StagingBag(tmp_path / "staging", files, Position(0, 0))
    with pytest.raises(ChunkOutOfPlace, match="expected file 0 offset 0"):
        staging.write(0, 5, b"x")
    with pytest.raises(ChunkOutOfPlace, match="bytes sent"):
        staging.write(0, 0, b"x" * 100)
    with pytest.raises(ArchiveStreamError, match="past its"):
        list(read_chunks(bag, files, Position(0, 999)))


_PIECES = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.binary(max_size=300)), max_size=8
)


@given(_PIECES)
def test_an_encoded_bag_chunk_parses_as_its_pieces(pieces: list[tuple[int, int, bytes]]) -> None:
    parsed = archive_pb2.BagChunk.FromString(encode_bag_chunk(pieces))
    assert [(p.file_index, p.offset, p.data) for p in parsed.pieces] == pieces


@given(_PIECES)
def test_a_bag_chunk_the_generated_code_wrote_decodes_as_its_pieces(
    pieces: list[tuple[int, int, bytes]],
) -> None:
    piece = archive_pb2.BagPiece
    message = archive_pb2.BagChunk(
        pieces=[piece(file_index=i, offset=o, data=d) for i, o, d in pieces]
    ).SerializeToString()
    decoded = decode_bag_chunk(message)
    assert [(i, o, bytes(d)) for i, o, d in decoded] == pieces
    assert decode_bag_chunk(encode_bag_chunk(pieces)) == decoded


def test_fields_a_later_source_adds_are_skipped_like_protobuf_does() -> None:
    # BagPiece field 9 (varint) and BagChunk field 7 (bytes): unknown here, skipped.
    piece = b"\x08\x02\x10\x05\x48\x96\x01\x1a\x03abc"
    message = b"\x3a\x02zz" + b"\x22" + bytes([len(piece)]) + piece
    assert [(p.file_index, p.offset, p.data) for p in archive_pb2.BagChunk.FromString(message).pieces] == [
        (2, 5, b"abc")
    ]
    assert [(i, o, bytes(d)) for i, o, d in decode_bag_chunk(message)] == [(2, 5, b"abc")]


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (b"\x22\x10\x08\x01", "runs past its message"),  # a piece longer than the message
        (b"\x22\x05\x1a\x09abc", "runs past its piece"),  # data longer than its piece
        (b"\x22\x02\x08\xff", "varint"),  # a varint cut off
        (b"\x22" + b"\xff" * 11, "varint"),  # a varint of more than 10 bytes
        (b"\x23\x00", "field number 0"),  # a group never ended (field 0 is no field)
        (b"\x24", "wire type 4"),  # a group ended that never began
        (b"\x2b" * 100_000, "nested more than 32 deep"),  # not a recursion error
    ],
)
def test_a_message_that_is_not_a_bag_chunk_is_refused_saying_where(message: bytes, words: str) -> None:
    with pytest.raises(BadBagChunk, match=words):
        decode_bag_chunk(message)


@given(st.binary(max_size=64))
def test_any_bytes_decode_as_protobuf_would_or_are_refused(message: bytes) -> None:
    try:
        decoded = decode_bag_chunk(message)
    except BadBagChunk:
        return
    parsed = archive_pb2.BagChunk.FromString(message)
    assert [(i, o, bytes(d)) for i, o, d in decoded] == [
        (p.file_index, p.offset, p.data) for p in parsed.pieces
    ]


@given(_PIECES, st.integers(1, 600), st.integers(1, 4))
def test_messages_keep_every_piece_in_order_within_their_bounds(
    pieces: list[tuple[int, int, bytes]], message_bytes: int, message_pieces: int
) -> None:
    groups = list(messages(pieces, message_bytes, message_pieces))
    assert [piece for group in groups for piece in group] == pieces
    for group in groups:
        assert 0 < len(group) <= message_pieces
        assert len(group) == 1 or sum(len(data) for _, _, data in group) <= message_bytes


@pytest.mark.asyncio
async def test_the_writer_thread_writes_in_order_checkpoints_between_and_hands_errors_back(
    tmp_path: Path,
) -> None:
    bag, files = _bag(tmp_path)
    staging = StagingBag(tmp_path / "staging", files, Position(0, 0))
    writer = StagingWriter(staging, limit_bytes=2500)  # less than the photo: the loop must wait
    pieces = list(read_chunks(bag, files, Position(0, 0), chunk_bytes=1000))
    for number, piece in enumerate(pieces):
        writer.put(*piece)
        await writer.room()
        assert writer.queued_bytes < 2500  # memory stays bounded by the limit, however fast pieces come
        if number == 4:
            checkpoint = await writer.checkpoint()
            assert checkpoint.position == Position(2, 3000)  # bagit.txt, empty, 3 x 1000 bytes
            assert checkpoint.bytes_before == files[0].size + 3000
    await writer.drain()
    assert staging.complete
    # Draining takes no checkpoint: the photo, written since the one above, is still the next
    # checkpoint's to make durable before the end is confirmed.
    assert staging.checkpoint().paths == (tmp_path / "staging" / "data/photo.jpg",)
    for file in files:
        assert (tmp_path / "staging" / file.path).read_bytes() == (bag / file.path).read_bytes()
    writer.put(2, 0, b"again")  # out of place: the staging bag refuses it, the loop hears of it
    with pytest.raises(ChunkOutOfPlace, match="chunk at file 2 offset 0, expected file 3"):
        await writer.drain()
    await writer.close()
