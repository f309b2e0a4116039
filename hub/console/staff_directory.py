"""The console's people: a role and an Argon2id hash of the password the hub issued each.

Like the PDA's inspector credentials (``station_agent.inspector_directory``) the password is made
by the hub (random, shown once by ``tongjian hub console-staff issue``) and only its hash is kept,
here with argon2-cffi's ``PasswordHasher`` (Argon2id; the parameters travel in the hash string, so
they can be raised later and old hashes are re-hashed at the next sign-in). Issuing again replaces
the password and changes the person's ``stamp``, which ends the sessions opened with the old one;
revoking removes the person.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update

from hub.console.roles import StaffRole
from hub.db import Database
from hub.errors import HubError
from hub.models import ConsoleSession, ConsoleStaff

_PERSON_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# An unknown person costs the same work as a known one: timing does not tell who exists.
_DUMMY_HASH = PasswordHasher().hash("not a password of anyone")


class StaffDirectoryError(HubError):
    """A person id, name or role that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    person_id: str
    name: str
    role: StaffRole
    stamp: str
    issued_at: datetime


def validate_person_id(person_id: str) -> str:
    if not _PERSON_ID.fullmatch(person_id):
        raise StaffDirectoryError(
            f"person id {person_id!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a"
            " letter or digit"
        )
    return person_id


class StaffDirectory:
    def __init__(self, database: Database, hasher: PasswordHasher | None = None) -> None:
        self._database = database
        self._hasher = hasher or PasswordHasher()

    def issue(self, person_id: str, role: StaffRole, name: str = "") -> str:
        """Issue (or re-issue) a password for ``person_id`` with ``role``; returns it (shown once)."""
        validate_person_id(person_id)
        if len(name) > 128:
            raise StaffDirectoryError(f"name of {person_id}: at most 128 characters")
        password = secrets.token_urlsafe(15)
        digest = self._hasher.hash(password)
        now = datetime.now(UTC)
        with self._database.writer.begin() as connection:
            connection.execute(delete(ConsoleStaff).where(ConsoleStaff.person_id == person_id))
            connection.execute(delete(ConsoleSession).where(ConsoleSession.person_id == person_id))
            connection.execute(
                insert(ConsoleStaff).values(
                    person_id=person_id,
                    name=name,
                    role=role.value,
                    password_hash=digest,
                    stamp=secrets.token_hex(16),
                    issued_at=now,
                )
            )
        return password

    def revoke(self, person_id: str) -> bool:
        """Remove the person and end their sessions; False if there was nobody of that id."""
        with self._database.writer.begin() as connection:
            connection.execute(delete(ConsoleSession).where(ConsoleSession.person_id == person_id))
            removed = connection.execute(delete(ConsoleStaff).where(ConsoleStaff.person_id == person_id))
        return bool(removed.rowcount)

    def get(self, person_id: str) -> StaffMember | None:
        with self._database.read() as session:
            row = session.get(ConsoleStaff, person_id)
            return None if row is None else _member(row)

    def members(self) -> list[StaffMember]:
        with self._database.read() as session:
            return [
                _member(row) for row in session.scalars(select(ConsoleStaff).order_by(ConsoleStaff.person_id))
            ]

    def authenticate(self, person_id: str, password: str) -> StaffMember | None:
        """The person, if ``password`` is theirs; else None (unknown and wrong look the same)."""
        with self._database.read() as session:
            row = session.get(ConsoleStaff, person_id)
            stored = None if row is None else (row.password_hash, _member(row))
        if stored is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(_DUMMY_HASH, password)
            return None
        digest, member = stored
        try:
            self._hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(digest):
            with self._database.writer.begin() as connection:
                connection.execute(
                    update(ConsoleStaff)
                    .where(ConsoleStaff.person_id == person_id, ConsoleStaff.stamp == member.stamp)
                    .values(password_hash=self._hasher.hash(password))
                )
        return member


def _member(row: ConsoleStaff) -> StaffMember:
    return StaffMember(row.person_id, row.name, StaffRole(row.role), row.stamp, row.issued_at)
