"""Inspection photos, stored content-addressed: each JPEG is a file named by its SHA-256.

Names by content mean a photo cannot be swapped under a record that cites its digest, and the same
photo uploaded twice is stored once (the supervisors' "same photo on two vehicles" warning is then a
plain lookup). Files are written atomically: bytes go to a temporary file in the same directory,
are flushed to disk, and are renamed into place, so a crash or a refused upload never leaves a
partial photo under a real name. Layout: ``<root>/<first two hex digits>/<64 hex digits>.jpg``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from station_agent.errors import StationAgentError

JPEG_CONTENT_TYPE = "image/jpeg"
# JPEG: SOI marker followed by the first segment's marker byte; EOI marker at the end.
_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PhotoError(StationAgentError, ValueError):
    """A photo was refused; nothing was stored."""


class PhotoTooLarge(PhotoError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"photo is larger than the limit of {limit} bytes (got at least {size})")
        self.size = size
        self.limit = limit


class NotAJpeg(PhotoError):
    pass


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    sha256: str
    size_bytes: int
    path: Path


def check_jpeg(data: bytes) -> None:
    """Refuse anything that does not start and end like a JPEG (a truncated upload has no EOI)."""
    if not data.startswith(_JPEG_START):
        raise NotAJpeg("not a JPEG: the data does not start with the JPEG SOI marker FF D8 FF")
    # Some encoders pad after EOI; look for it near the end rather than only at the last two bytes.
    if _JPEG_END not in data[-64:]:
        raise NotAJpeg("not a complete JPEG: no EOI marker FF D9 at the end (truncated?)")


class PhotoStore:
    def __init__(self, root: str | Path, max_bytes: int = 8_000_000) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        if not _SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a lower-case hex SHA-256 digest: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, data: bytes) -> StoredPhoto:
        """Check and store a JPEG; returns its digest. Idempotent for the same bytes."""
        if len(data) > self.max_bytes:
            raise PhotoTooLarge(len(data), self.max_bytes)
        check_jpeg(data)
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if path.exists():
            return StoredPhoto(digest, len(data), path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The temporary name starts with "." and ends in ".tmp", so no reader takes it for a photo.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            # Whatever went wrong (disk full, cancellation), leave no temporary file behind.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(path.parent)
        return StoredPhoto(digest, len(data), path)

    def get(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def __contains__(self, sha256: object) -> bool:
        return (
            isinstance(sha256, str)
            and _SHA256_HEX.fullmatch(sha256) is not None
            and (self.path_of(sha256).exists())
        )

    def digests(self) -> list[str]:
        """Every stored photo's digest (temporary files excluded), sorted."""
        if not self.root.exists():
            return []
        return sorted(p.stem for p in self.root.glob("??/*.jpg") if _SHA256_HEX.fullmatch(p.stem))


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)
