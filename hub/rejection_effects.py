"""What a post-review rejection does beyond the review queue, each inside the rejecting transaction.

The review queue (``hub.review_queue``) calls each effect with its connection and the rejected
record; an effect that fails undoes the rejection. Effects:

* ``notify_station``: a notice the station fetches (``hub.station_notices``, shown by
  ``tongjian agent notices``);
* ``revoke_label``: the record's inspection label, if one was issued (``hub.label_book``);
* ``forward_rejection`` (with federation): the registration province's hub is told through the
  forwarding outbox, countersigned, when the vehicle is registered elsewhere
  (``hub.forward_outbox``, ``hub.countersign``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from hub.label_book import revoke_record_label_in
from hub.station_notices import RECORD_REJECTED, post_in


class RejectedRecord(Protocol):
    """What an effect needs to know of a rejection (``hub.review_queue.Revocation`` has it)."""

    @property
    def station_id(self) -> str: ...
    @property
    def record_id(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def revoked_by(self) -> str: ...
    @property
    def revoked_at(self) -> datetime: ...


def notify_station(connection: Connection, rejected: RejectedRecord) -> None:
    post_in(
        connection,
        rejected.station_id,
        RECORD_REJECTED,
        rejected.record_id,
        f"post-review rejected the result ({rejected.revoked_by}): {rejected.reason}",
        rejected.revoked_at,
    )


def revoke_label(connection: Connection, rejected: RejectedRecord) -> None:
    revoke_record_label_in(
        connection,
        rejected.station_id,
        rejected.record_id,
        f"post-review rejected record {rejected.record_id}: {rejected.reason}",
        rejected.revoked_at,
    )
