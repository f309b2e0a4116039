"""The station's inspectors and the credentials it issued them, as salted scrypt hashes in SQLite.

The station issues each inspector a random credential (shown once, typed into the PDA); only a
salted scrypt hash of it is kept, so a copy of the file does not let anyone sign in. Issuing again
replaces the inspector's credential; revoking removes it. The scrypt cost is stored per row, so it
can be raised later without invalidating credentials already issued.

A credential names its station and the lanes it may act on; the PDA service refuses anything else.
Credentials issued before scopes existed name none and are good for nothing until re-issued.

Sign-in lockouts live here too (``sign_in_lockouts``), keyed by whatever inspector id was tried,
known or not (so a lockout does not tell who exists): the agent writes them, an administrator lifts
them with ``tongjian pda unlock``, from another process.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from station_agent.errors import StationAgentError

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
    issued_at TEXT NOT NULL,
    station_id TEXT NOT NULL DEFAULT '',
    lanes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sign_in_lockouts (
    inspector_id TEXT PRIMARY KEY,
    locked_at TEXT NOT NULL,
    failures INTEGER NOT NULL
);
"""
# Columns added after the first release, for files written before them.
_ADDED_COLUMNS = {
    "station_id": "ALTER TABLE inspectors ADD COLUMN station_id TEXT NOT NULL DEFAULT ''",
    "lanes": "ALTER TABLE inspectors ADD COLUMN lanes TEXT NOT NULL DEFAULT ''",
}
MAX_LANE = 99


class InspectorDirectoryError(StationAgentError, ValueError):
    """The directory cannot do what was asked (bad inspector id, unreadable file)."""


@dataclass(frozen=True, slots=True)
class Inspector:
    inspector_id: str
    name: str
    issued_at: datetime
    station_id: str = ""
    lanes: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Credential:
    """A verified credential: whose, which one (``stamp``), and what it may act on."""

    inspector_id: str
    stamp: str  # names this credential (its random salt); a re-issue or revocation changes it
    station_id: str
    lanes: frozenset[int]


@dataclass(frozen=True, slots=True)
class Lockout:
    inspector_id: str
    locked_at: datetime
    failures: int


def parse_lanes(text: str) -> frozenset[int]:
    """``"1,2"`` -> {1, 2}; refuses anything but lane numbers 1..99."""
    lanes: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= MAX_LANE:
            raise InspectorDirectoryError(
                f"lanes {text!r}: give lane numbers 1-{MAX_LANE} separated by commas"
            )
        lanes.add(int(part))
    return frozenset(lanes)


def _lanes_text(lanes: frozenset[int]) -> str:
    return ",".join(str(n) for n in sorted(lanes))


def _lanes_from(text: str) -> frozenset[int]:
    return frozenset(int(n) for n in text.split(",") if n)


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
                    connection.executescript(_SCHEMA)
                    columns = {row[1] for row in connection.execute("PRAGMA table_info(inspectors)")}
                    for column, statement in _ADDED_COLUMNS.items():
                        if column not in columns:
                            connection.execute(statement)
                    yield connection
            except sqlite3.DatabaseError as error:
                raise InspectorDirectoryError(f"{self.path}: {error}") from error

    def issue(self, inspector_id: str, name: str = "", *, station_id: str, lanes: Iterable[int]) -> str:
        """Issue (or re-issue) a credential for ``station_id``'s ``lanes``; returns it. Only its hash
        is stored."""
        validate_inspector_id(inspector_id)
        if not station_id.strip():
            raise InspectorDirectoryError("a credential must name its station")
        scope = frozenset(lanes)
        if not scope or not all(1 <= n <= MAX_LANE for n in scope):
            raise InspectorDirectoryError(f"a credential must name lanes 1-{MAX_LANE}, not {sorted(scope)}")
        credential = secrets.token_urlsafe(18)
        salt = secrets.token_bytes(16)
        digest = _hash(credential, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        with self._connect() as db:
            db.execute(
                "INSERT INTO inspectors (inspector_id, name, salt, hash, scrypt_n, scrypt_r, scrypt_p, issued_at,"
                " station_id, lanes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (inspector_id) DO UPDATE SET name = excluded.name, salt = excluded.salt,"
                " hash = excluded.hash, scrypt_n = excluded.scrypt_n, scrypt_r = excluded.scrypt_r,"
                " scrypt_p = excluded.scrypt_p, issued_at = excluded.issued_at,"
                " station_id = excluded.station_id, lanes = excluded.lanes",
                (
                    inspector_id,
                    name,
                    salt,
                    digest,
                    SCRYPT_N,
                    SCRYPT_R,
                    SCRYPT_P,
                    datetime.now(UTC).isoformat(),
                    station_id,
                    _lanes_text(scope),
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
        return self.authenticate(inspector_id, credential) is not None

    def authenticate(self, inspector_id: str, credential: str) -> Credential | None:
        """The credential and its scope, for a known inspector with this exact credential; else None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT salt, hash, scrypt_n, scrypt_r, scrypt_p, station_id, lanes FROM inspectors"
                " WHERE inspector_id = ?",
                (inspector_id,),
            ).fetchone()
        if row is None:
            # Spend the same work for an unknown inspector, so timing does not reveal who exists.
            _hash(credential, b"\x00" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
            return None
        salt, stored, n, r, p, station_id, lanes = row
        if not hmac.compare_digest(_hash(credential, salt, n, r, p), stored):
            return None
        return Credential(inspector_id, bytes(salt).hex(), station_id, _lanes_from(lanes))

    def inspectors(self) -> list[Inspector]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT inspector_id, name, issued_at, station_id, lanes FROM inspectors ORDER BY inspector_id"
            )
            return [
                Inspector(i, n, datetime.fromisoformat(t), s, _lanes_from(lanes))
                for i, n, t, s, lanes in rows.fetchall()
            ]

    # --- sign-in lockouts -------------------------------------------------------------------------

    def lock(self, inspector_id: str, failures: int) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO sign_in_lockouts (inspector_id, locked_at, failures) VALUES (?, ?, ?)"
                " ON CONFLICT (inspector_id) DO UPDATE SET locked_at = excluded.locked_at,"
                " failures = excluded.failures",
                (inspector_id, datetime.now(UTC).isoformat(), failures),
            )

    def lockout(self, inspector_id: str) -> Lockout | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT locked_at, failures FROM sign_in_lockouts WHERE inspector_id = ?", (inspector_id,)
            ).fetchone()
        return None if row is None else Lockout(inspector_id, datetime.fromisoformat(row[0]), row[1])

    def unlock(self, inspector_id: str) -> bool:
        """Lift a sign-in lockout; False if there was none."""
        with self._connect() as db:
            return (
                db.execute("DELETE FROM sign_in_lockouts WHERE inspector_id = ?", (inspector_id,)).rowcount
                > 0
            )
