"""Tampering with a hub's audit log the way a careful forger would, for the tamper tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from hub.audit import audit_hash


def rechain(engine: Engine, from_seq: int) -> None:
    """What a careful forger does after an edit: recompute every hash from ``from_seq`` on, and
    the head, so the chain alone no longer shows anything."""
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                "SELECT seq, at, kind, station_id, record_id, key_id, detail FROM audit_events "
                "WHERE seq >= :s ORDER BY seq"
            ),
            {"s": from_seq},
        ).all()
        previous = connection.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": from_seq - 1}
        ).scalar_one()
        for seq, at, kind, station_id, record_id, key_id, detail in rows:
            at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
            digest = audit_hash(seq, at, kind, station_id, record_id, key_id, detail, previous)
            connection.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": previous, "h": digest, "s": seq},
            )
            previous = digest
        last = rows[-1][0] if rows else from_seq - 1
        connection.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": last, "h": previous}
        )


def delete_and_rechain(engine: Engine, seq: int) -> None:
    """Remove entry ``seq``, renumber the later ones down by one and recompute the chain: a log
    that reads as if the entry had never been written, to anyone without a checkpoint of it.
    The hub's own checkpoints, which would give it away, are deleted too."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
        # In two steps: a primary key shifted in place would collide with its neighbour.
        connection.execute(text("UPDATE audit_events SET seq = -(seq - 1) WHERE seq > :s"), {"s": seq})
        connection.execute(text("UPDATE audit_events SET seq = -seq WHERE seq < 0"))
        connection.execute(text("DELETE FROM audit_checkpoints"))
    rechain(engine, seq)
