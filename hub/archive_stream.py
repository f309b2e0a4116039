"""A bag's bytes on the wire between two hubs: its file list, fixed-size chunks, and the
destination's staging directory that takes them and remembers how far it got.

The source lists the bag's files once (``bag_files``, sorted, every payload and tag file) and
sends them in that order, each in pieces of at most ``CHUNK_BYTES``, from any position
(``read_chunks``), several pieces to a message up to ``MESSAGE_BYTES`` (``messages``): a bag of
photos is hundreds of files smaller than a chunk, and every message costs both ends Python and
gRPC work. Memory on the source is one message per stream whatever the bag's size.

The destination writes each chunk where the list says into a staging directory
(``StagingBag``); every ``CONFIRM_BYTES`` and at the end it makes what it wrote durable (fsync)
and only then reports the position as *confirmed*, which the caller stores in the transfer's row.
After a cut or a restart it opens the staging directory at the confirmed position: the file at
that position is cut back to it and files after it are removed (written, never confirmed), and
fetching resumes from there. A chunk not at the expected position, or beyond its file's listed
size, is the source's fault (``ChunkOutOfPlace``). Nothing here is trusted yet: the bag is
checked whole (``hub.archive_bag.check_bag``) before it is imported.

File paths come from the other hub: ``parse_bag_path`` admits only relative, "/"-separated
paths without empty, "." or ".." parts, so a listed file can never land outside the staging
directory.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.errors import HubError

# Pieces of at most CHUNK_BYTES, messages of at most MESSAGE_BYTES of data and MESSAGE_PIECES
# pieces (each piece adds a few bytes of framing): well inside the hub's 1 MiB send limit and a
# peer channel's 1 MiB receive limit. Per message both ends pay Python and gRPC work: one 48 KiB
# chunk a message gave 31-36 % of raw gRPC streaming, 256 KiB 45 %, several files a message more
# (docs/design/archive-transfer.md); memory stays bounded by the write-ahead, not the message.
CHUNK_BYTES = 256 * 1024
MESSAGE_BYTES = 960 * 1024
MESSAGE_PIECES = 512
CONFIRM_BYTES = 8 * 1024 * 1024
MAX_PATH_CHARS = 512
MAX_FILES = 1_000_000
MAX_BAG_BYTES = 64 * 1024**3
_FORBIDDEN = frozenset("\\\0:")


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): make every file of one file system durable in one call; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return function


_SYNCFS = _syncfs()


class ArchiveStreamError(HubError):
    """The bag's file list or bytes as offered by the source are not acceptable."""


class BadBagPath(ArchiveStreamError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"bag file path {path!r}: {reason}")
        self.path = path


class ChunkOutOfPlace(ArchiveStreamError):
    """A chunk that is not where the destination expects the next bytes."""


@dataclass(frozen=True, slots=True)
class BagFile:
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Position:
    """Whole files before ``file_index``, and ``offset`` bytes of that one."""

    file_index: int
    offset: int


def parse_bag_path(path: str) -> str:
    """``path`` if it is a safe relative path inside a bag; ``BadBagPath`` naming why not."""
    if not path:
        raise BadBagPath(path, "empty")
    if len(path) > MAX_PATH_CHARS:
        raise BadBagPath(path, f"{len(path)} characters, at most {MAX_PATH_CHARS}")
    if path.startswith("/"):
        raise BadBagPath(path, "absolute; a bag's paths are relative")
    bad = sorted(_FORBIDDEN.intersection(path))
    if bad:
        raise BadBagPath(path, f"contains {bad[0]!r}")
    if any(not char.isprintable() for char in path):
        raise BadBagPath(path, "contains a control character")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise BadBagPath(path, f"has a {part or 'empty'!r} part")
    return path


def parse_file_list(files: Sequence[tuple[str, int]]) -> list[BagFile]:
    """The offered file list checked: safe distinct paths, sizes in range, bounded in total."""
    if len(files) > MAX_FILES:
        raise ArchiveStreamError(f"{len(files)} files offered, at most {MAX_FILES}")
    seen: set[str] = set()
    parsed: list[BagFile] = []
    total = 0
    for path, size in files:
        parse_bag_path(path)
        if path in seen:
            raise BadBagPath(path, "listed twice")
        if size < 0:
            raise BadBagPath(path, f"size {size}")
        seen.add(path)
        total += size
        parsed.append(BagFile(path, size))
    prefixes = {path.rsplit("/", 1)[0] for path in seen if "/" in path}
    clash = sorted(prefixes & seen)
    if clash:
        raise BadBagPath(clash[0], "is both a file and a directory")
    if total > MAX_BAG_BYTES:
        raise ArchiveStreamError(f"{total} bytes offered, at most {MAX_BAG_BYTES}")
    return parsed


def bag_files(bag_dir: Path) -> list[BagFile]:
    """Every file of the bag at ``bag_dir``, sorted by path."""
    files = [
        BagFile(path.relative_to(bag_dir).as_posix(), path.stat().st_size)
        for path in bag_dir.rglob("*")
        if path.is_file()
    ]
    return sorted(files, key=lambda file: file.path)


def read_chunks(
    bag_dir: Path, files: Sequence[BagFile], start: Position, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, int, bytes]]:
    """(file index, offset, bytes) from ``start`` to the end of the bag, ``chunk_bytes`` at most."""
    if not 0 <= start.file_index <= len(files):
        raise ChunkOutOfPlace(f"position file {start.file_index}: the bag has {len(files)} files")
    root = str(bag_dir)
    for index in range(start.file_index, len(files)):
        file = files[index]
        offset = start.offset if index == start.file_index else 0
        if offset > file.size:
            raise ChunkOutOfPlace(f"{file.path}: offset {offset} past its {file.size} bytes")
        if file.size == 0:
            yield index, 0, b""  # so the destination creates empty files too
            continue
        # Unbuffered: each read is one read(2) straight into the bytes sent.
        with open(os.path.join(root, file.path), "rb", buffering=0) as handle:
            if offset:
                handle.seek(offset)
            while offset < file.size:
                data = handle.read(min(chunk_bytes, file.size - offset))
                if not data:
                    raise ArchiveStreamError(f"{file.path}: shorter than its listed {file.size} bytes")
                yield index, offset, data
                offset += len(data)


def messages(
    pieces: Iterable[tuple[int, int, bytes]],
    message_bytes: int = MESSAGE_BYTES,
    message_pieces: int = MESSAGE_PIECES,
) -> Iterator[list[tuple[int, int, bytes]]]:
    """``pieces`` in order, grouped: each group at most ``message_bytes`` of data (one piece alone
    may be larger) and ``message_pieces`` pieces; never empty."""
    group: list[tuple[int, int, bytes]] = []
    size = 0
    for piece in pieces:
        if group and (size + len(piece[2]) > message_bytes or len(group) >= message_pieces):
            yield group
            group, size = [], 0
        group.append(piece)
        size += len(piece[2])
    if group:
        yield group


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Protobuf tags of tongjian.v1.BagChunk.pieces (field 4) and BagPiece's fields 1-3 (wire types:
# 0 varint, 2 length-delimited).
_PIECES_TAG = b"\x22"
_FILE_INDEX_TAG, _OFFSET_TAG, _DATA_TAG = b"\x08", b"\x10", b"\x1a"


def encode_bag_chunk(pieces: Sequence[tuple[int, int, bytes]]) -> bytes:
    """The wire bytes of a ``tongjian.v1.BagChunk`` of ``pieces``, written directly.

    Why not ``BagChunk(pieces=[...]).SerializeToString()``: that copies every piece's bytes into
    the message and again into its serialisation, about a tenth of the source's time for a bag of
    photos; here each piece's bytes are copied once, by the join. A receiver parses the result
    with the generated ``BagChunk`` like any other (the property test in test_archive_stream)."""
    parts: list[bytes] = []
    for file_index, offset, data in pieces:
        head = (
            _FILE_INDEX_TAG
            + _varint(file_index)
            + _OFFSET_TAG
            + _varint(offset)
            + _DATA_TAG
            + _varint(len(data))
        )
        parts.append(_PIECES_TAG + _varint(len(head) + len(data)) + head)
        parts.append(data)
    return b"".join(parts)


class BadBagChunk(ArchiveStreamError):
    """A message that is not a well-formed ``tongjian.v1.BagChunk``."""


_MAX_FIELD_NUMBER = 2**29 - 1
_MAX_DEPTH = 32  # groups in groups (protobuf's own limit is 100)


def _read_varint(data: memoryview, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while at < end and shift < 64:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
    raise BadBagChunk(f"a varint at byte {at} runs past its field or 10 bytes")


def _skip_field(data: memoryview, key: int, at: int, end: int, depth: int = 0) -> int:
    """Where a field that this hub does not know ends (protobuf skips them)."""
    wire_type = key & 7
    if not 0 < key >> 3 <= _MAX_FIELD_NUMBER:
        raise BadBagChunk(f"field number {key >> 3} at byte {at}")
    if wire_type == 0:
        return _read_varint(data, at, end)[1]
    if wire_type == 1:
        skipped = at + 8
    elif wire_type == 2:
        length, at = _read_varint(data, at, end)
        skipped = at + length
    elif wire_type == 5:
        skipped = at + 4
    elif wire_type == 3:  # a group (proto2): fields up to its end-group tag
        if depth >= _MAX_DEPTH:
            raise BadBagChunk(f"groups nested more than {_MAX_DEPTH} deep at byte {at}")
        while True:
            inner, at = _read_varint(data, at, end)
            if inner == (key & ~7) | 4:
                return at
            at = _skip_field(data, inner, at, end, depth + 1)
    else:
        raise BadBagChunk(f"wire type {wire_type} at byte {at}")
    if skipped > end:
        raise BadBagChunk(f"a field at byte {at} runs past its message")
    return skipped


def decode_bag_chunk(message: bytes) -> list[tuple[int, int, memoryview]]:
    """The pieces of a serialised ``tongjian.v1.BagChunk``: (file index, offset, data), the data
    a view into ``message``; ``BadBagChunk`` naming where if it is not one.

    Why not ``BagChunk.FromString`` as gRPC's deserializer: on a message it cannot parse, gRPC
    logs and hands ``None`` on, and the receive task failed on it for ever (started again every
    round) instead of refusing the transfer; and it builds a protobuf object per piece, where
    here the caller decides what to copy. It reads what protobuf reads (unknown fields and groups
    skipped) and refuses what protobuf refuses: the property tests in test_archive_stream
    compare it with the generated parser."""
    data = memoryview(message)
    pieces: list[tuple[int, int, memoryview]] = []
    at, end = 0, len(data)
    while at < end:
        key, at = _read_varint(data, at, end)
        if key != 0x22:  # BagChunk.pieces (4, length-delimited)
            at = _skip_field(data, key, at, end)
            continue
        length, at = _read_varint(data, at, end)
        piece_end = at + length
        if piece_end > end:
            raise BadBagChunk(f"a piece of {length} bytes at byte {at} runs past its message")
        file_index = offset = 0
        piece = data[at:at]
        while at < piece_end:
            key, at = _read_varint(data, at, piece_end)
            if key == 0x08:
                file_index, at = _read_varint(data, at, piece_end)
                file_index &= 0xFFFFFFFF  # uint32: protobuf keeps the low 32 bits
            elif key == 0x10:
                offset, at = _read_varint(data, at, piece_end)
            elif key == 0x1A:
                size, at = _read_varint(data, at, piece_end)
                if at + size > piece_end:
                    raise BadBagChunk(f"piece data of {size} bytes at byte {at} runs past its piece")
                piece = data[at : at + size]
                at += size
            else:
                at = _skip_field(data, key, at, piece_end)
        pieces.append((file_index, offset, piece))
    return pieces


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: Position
    bytes_before: int  # bytes of the bag before ``position``
    paths: tuple[Path, ...]

    def make_durable(self) -> None:
        if not self.paths:
            return
        if _SYNCFS is not None:
            # One journal commit for every file written since the last checkpoint, instead of an
            # fsync (and a commit) per file: a bag of photos is hundreds of small files.
            descriptor = os.open(self.paths[0], os.O_RDONLY)
            try:
                if _SYNCFS(descriptor) == 0:
                    return
            finally:
                os.close(descriptor)
        for path in self.paths:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


class StagingBag:
    """The destination's partial copy of a bag, written chunk by chunk from a confirmed position."""

    def __init__(self, root: Path, files: Sequence[BagFile], confirmed: Position) -> None:
        self.root = root
        self.files = list(files)
        self.position = confirmed
        self._unsynced: list[Path] = []
        self._since_confirm = 0
        # The file being written: a plain descriptor (os.write, no buffer to flush) and its path.
        self._descriptor: int | None = None
        self._path: Path | None = None
        self._directories: set[Path] = set()  # made already: one mkdir per directory, not per file
        self._rewind(confirmed)

    # ------------------------------------------------------------ resume

    def _rewind(self, confirmed: Position) -> None:
        """Cut the staging directory back to ``confirmed``: what came after was never made durable."""
        if not self.root.exists() and confirmed.offset == 0:
            self.root.mkdir(parents=True)  # a first fetch: nothing to cut, no file to look at
            return
        for index, file in enumerate(self.files):
            path = self.root / file.path
            if index > confirmed.file_index and path.exists():
                path.unlink()
            elif index == confirmed.file_index and path.exists():
                with path.open("r+b") as handle:
                    handle.truncate(confirmed.offset)
            elif index == confirmed.file_index and confirmed.offset > 0:
                raise ChunkOutOfPlace(f"{file.path}: confirmed {confirmed.offset} bytes, the file is gone")

    # ------------------------------------------------------------ writing

    @property
    def complete(self) -> bool:
        return self.position.file_index >= len(self.files)

    @property
    def unconfirmed_bytes(self) -> int:
        return self._since_confirm

    def bytes_before(self, position: Position) -> int:
        return sum(file.size for file in self.files[: position.file_index]) + position.offset

    def write(self, file_index: int, offset: int, data: bytes | memoryview) -> None:
        expected = self.position
        if (file_index, offset) != (expected.file_index, expected.offset):
            raise ChunkOutOfPlace(
                f"chunk at file {file_index} offset {offset}, expected file {expected.file_index} "
                f"offset {expected.offset}"
            )
        if file_index >= len(self.files):
            raise ChunkOutOfPlace(f"chunk for file {file_index}: only {len(self.files)} files offered")
        file = self.files[file_index]
        if offset + len(data) > file.size:
            raise ChunkOutOfPlace(f"{file.path}: {offset + len(data)} bytes sent, {file.size} offered")
        if self._descriptor is None:
            path = self.root / file.path
            if path.parent not in self._directories:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._directories.add(path.parent)
            self._descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            self._path = path
        view = memoryview(data)
        while view:  # os.write may write less than asked (a signal, a full disk's last block)
            view = view[os.write(self._descriptor, view) :]
        self._since_confirm += len(data)
        end = offset + len(data)
        if end == file.size:
            self._close_current()
            self.position = Position(file_index + 1, 0)
        else:
            self.position = Position(file_index, end)

    def _close_current(self) -> None:
        if self._descriptor is not None:
            assert self._path is not None
            self._unsynced.append(self._path)
            os.close(self._descriptor)
            self._descriptor, self._path = None, None

    def checkpoint(self) -> Checkpoint:
        """What to make durable to confirm the position reached: every file written since the last
        checkpoint (the current one flushed to the OS). Taken between writes; made durable by
        ``Checkpoint.make_durable`` in another thread while writing goes on."""
        paths = list(self._unsynced)
        if self._path is not None:
            paths.append(self._path)
        self._unsynced.clear()
        self._since_confirm = 0
        return Checkpoint(self.position, self.bytes_before(self.position), tuple(paths))

    def sync(self) -> Position:
        """Make everything written durable; the position returned may be stored as confirmed."""
        checkpoint = self.checkpoint()
        checkpoint.make_durable()
        return checkpoint.position

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor, self._path = None, None

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)
