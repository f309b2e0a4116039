"""The station's inspectors and the credentials it issued them, as salted scrypt hashes in SQLite.

The station issues each inspector a random credential (shown once, typed into the PDA); only a
salted scrypt hash of it is kept, so a copy of the file does not let anyone sign in. Issuing again
replaces the inspector's credential; revoking removes it. The scrypt cost is stored per row, so it
can be raised later without invalidating credentials already issued.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# scrypt cost: n=2**14, r=8 takes 16 MiB and some tens of ms: cheap for one sign-in, dear for guessing.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
_INSPECTOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inspectors (
    inspector_id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    scrypt_n INTEGER NOT NULL,
    scrypt_r INTEGER NOT NULL,
    scrypt_p INTEGER NOT NULL,
    issued_at TEXT NOT NULL
)
"""


class InspectorDirectoryError(ValueError):
    """The directory cannot do what was asked (bad inspector id, unreadable file)."""


@dataclass(frozen=True, slots=True)
class Inspector:
    inspector_id: str
    name: str
    issued_at: datetime


def validate_inspector_id(inspector_id: str) -> str:
    if not _INSPECTOR_ID.fullmatch(inspector_id):
        raise InspectorDirectoryError(
            f"inspector id {inspector_id!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit"
        )
    return inspector_id


def _hash(credential: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        credential.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=_KEY_BYTES
    )


class InspectorDirectory:
    """One SQLite file; each call opens its own short connection, so the CLI and the agent can share it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path)
        except (OSError, sqlite3.Error) as error:
            raise InspectorDirectoryError(f"{self.path}: cannot open: {error}") from error
        with closing(connection):
            try:
                with connection:  # one transaction: committed on success, rolled back on error
                    connection.execute(_SCHEMA)
                    yield connection
            except sqlite3.DatabaseError as error:
                raise InspectorDirectoryError(f"{self.path}: {error}") from error

    def issue(self, inspector_id: str, name: str = "") -> str:
        """Issue (or re-issue) a credential; returns it. Only its hash is stored."""
        validate_inspector_id(inspector_id)
        credential = secrets.token_urlsafe(18)
        salt = secrets.token_bytes(16)
        digest = _hash(credential, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        with self._connect() as db:
            db.execute(
                "INSERT INTO inspectors (inspector_id, name, salt, hash, scrypt_n, scrypt_r, scrypt_p, issued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (inspector_id) DO UPDATE SET name = excluded.name, salt = excluded.salt,"
                " hash = excluded.hash, scrypt_n = excluded.scrypt_n, scrypt_r = excluded.scrypt_r,"
                " scrypt_p = excluded.scrypt_p, issued_at = excluded.issued_at",
                (
                    inspector_id,
                    name,
                    salt,
                    digest,
                    SCRYPT_N,
                    SCRYPT_R,
                    SCRYPT_P,
                    datetime.now(UTC).isoformat(),
                ),
            )
        return credential

    def revoke(self, inspector_id: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM inspectors WHERE inspector_id = ?", (inspector_id,)).rowcount > 0

    def credential_stamp(self, inspector_id: str) -> str | None:
        """A value that names the inspector's current credential (its random salt); None once
        revoked. A session opened under another stamp was opened with a credential no longer valid."""
        with self._connect() as db:
            row = db.execute("SELECT salt FROM inspectors WHERE inspector_id = ?", (inspector_id,)).fetchone()
        return None if row is None else bytes(row[0]).hex()

    def verify(self, inspector_id: str, credential: str) -> bool:
        """True only for a known inspector with this exact credential."""
        with self._connect() as db:
            row = db.execute(
                "SELECT salt, hash, scrypt_n, scrypt_r, scrypt_p FROM inspectors WHERE inspector_id = ?",
                (inspector_id,),
            ).fetchone()
        if row is None:
            # Spend the same work for an unknown inspector, so timing does not reveal who exists.
            _hash(credential, b"\x00" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
            return False
        salt, stored, n, r, p = row
        return hmac.compare_digest(_hash(credential, salt, n, r, p), stored)

    def inspectors(self) -> list[Inspector]:
        with self._connect() as db:
            rows = db.execute("SELECT inspector_id, name, issued_at FROM inspectors ORDER BY inspector_id")
            return [Inspector(i, n, datetime.fromisoformat(t)) for i, n, t in rows.fetchall()]
