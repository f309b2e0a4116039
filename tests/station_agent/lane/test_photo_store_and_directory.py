"""Photo store (content-addressed, atomic, checked) and inspector directory (salted scrypt hashes)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from station_agent.inspector_directory import InspectorDirectory, InspectorDirectoryError
from station_agent.photo_store import NotAJpeg, PhotoStore, PhotoTooLarge


def jpeg(payload: bytes = b"photo") -> bytes:
    return b"\xff\xd8\xff\xe0" + payload + b"\xff\xd9"


def test_photo_named_by_its_sha256_and_stored_once(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "photos", max_bytes=1000)
    data = jpeg(b"front")
    first = store.put(data)
    again = store.put(data)
    digest = hashlib.sha256(data).hexdigest()
    assert first.sha256 == again.sha256 == digest
    assert first.path == tmp_path / "photos" / digest[:2] / f"{digest}.jpg"
    assert store.get(digest) == data
    assert digest in store and store.digests() == [digest]
    assert list((tmp_path / "photos").rglob("*.tmp")) == []


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"GIF89a" + b"\x00" * 10, NotAJpeg, "FF D8 FF"),
        (b"\xff\xd8\xff\xe0 truncated", NotAJpeg, "EOI"),
        (jpeg(b"x" * 2000), PhotoTooLarge, "limit of 1000 bytes"),
    ],
)
def test_refused_photo_leaves_nothing(
    tmp_path: Path, data: bytes, error: type[Exception], message: str
) -> None:
    store = PhotoStore(tmp_path / "photos", max_bytes=1000)
    with pytest.raises(error, match=message):
        store.put(data)
    assert not (tmp_path / "photos").exists() or list((tmp_path / "photos").rglob("*")) == []


def test_directory_verifies_only_the_issued_credential(tmp_path: Path) -> None:
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    credential = directory.issue("insp-07", name="Li Wei", station_id="50-0001", lanes=[1])
    assert directory.verify("insp-07", credential)
    assert not directory.verify("insp-07", credential + "x")
    assert not directory.verify("insp-08", credential)
    # Only a salted hash is on disk, never the credential.
    assert credential.encode() not in (tmp_path / "inspectors.sqlite3").read_bytes()
    with sqlite3.connect(tmp_path / "inspectors.sqlite3") as db:
        (salt,) = db.execute("SELECT salt FROM inspectors").fetchone()
    assert len(salt) == 16

    replaced = directory.issue("insp-07", station_id="50-0001", lanes=[1])
    assert directory.verify("insp-07", replaced) and not directory.verify("insp-07", credential)
    assert [i.inspector_id for i in directory.inspectors()] == ["insp-07"]
    assert directory.revoke("insp-07") and not directory.verify("insp-07", replaced)


def test_directory_refuses_bad_ids_and_bad_files(tmp_path: Path) -> None:
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    with pytest.raises(InspectorDirectoryError, match="inspector id"):
        directory.issue("bad id with spaces", station_id="50-0001", lanes=[1])
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(InspectorDirectoryError, match=r"garbage\.sqlite3"):
        InspectorDirectory(garbage).verify("insp-07", "x")
