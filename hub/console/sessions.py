"""Signed-in console sessions, in the hub's database so every replica of the hub knows them.

The browser holds a random token in an HttpOnly, SameSite=Strict cookie; the database holds only
its SHA-256, the person, the role and the credential stamp at sign-in, a CSRF token for the forms,
and when it expires. A session ends when it expires, when the person signs out, or when their
password is re-issued or revoked (the stamp no longer matches, or the person is gone).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select

from hub.console.roles import StaffRole
from hub.console.staff_directory import StaffMember
from hub.db import Database
from hub.models import ConsoleSession, ConsoleStaff

DEFAULT_TTL = timedelta(hours=8)  # a working day; then sign in again


@dataclass(frozen=True, slots=True)
class StaffSession:
    person_id: str
    role: StaffRole
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionBook:
    def __init__(
        self,
        database: Database,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self.ttl = ttl
        self._clock = clock

    def open(self, member: StaffMember) -> tuple[str, StaffSession]:
        """A new session for ``member``: the cookie's token and the session."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        session = StaffSession(member.person_id, member.role, secrets.token_urlsafe(32), now + self.ttl)
        with self._database.writer.begin() as connection:
            connection.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
            connection.execute(
                insert(ConsoleSession).values(
                    token_sha256=_digest(token),
                    person_id=member.person_id,
                    role=member.role.value,
                    stamp=member.stamp,
                    csrf_token=session.csrf_token,
                    opened_at=now,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    def find(self, token: str) -> StaffSession | None:
        """The live session of ``token``; None if unknown, expired, or its credential changed."""
        if not token:
            return None
        with self._database.read() as db:
            row = db.execute(
                select(ConsoleSession, ConsoleStaff.stamp, ConsoleStaff.role)
                .join(ConsoleStaff, ConsoleStaff.person_id == ConsoleSession.person_id, isouter=True)
                .where(ConsoleSession.token_sha256 == _digest(token))
            ).first()
        if row is None:
            return None
        stored, stamp, role = row
        if stored.expires_at <= self._clock() or stamp != stored.stamp or role != stored.role:
            return None
        return StaffSession(stored.person_id, StaffRole(stored.role), stored.csrf_token, stored.expires_at)

    def close(self, token: str) -> None:
        with self._database.writer.begin() as connection:
            connection.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == _digest(token)))
