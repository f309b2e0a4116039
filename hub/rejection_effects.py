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

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from hub.countersign import HubIdentity, review_outcome_row
from hub.forward_outbox import forwarded_to_in, insert_in
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


def forward_rejection(identity: HubIdentity) -> Callable[[Connection, RejectedRecord], None]:
    """The effect that queues a countersigned rejection for the record's registration province,
    when the record was forwarded there (a local vehicle's record was not: nothing to send)."""

    def forward(connection: Connection, rejected: RejectedRecord) -> None:
        forwarded = forwarded_to_in(connection, rejected.station_id, rejected.record_id)
        if forwarded is None:
            return
        to_province, vin = forwarded
        row = review_outcome_row(
            identity,
            to_province,
            rejected.station_id,
            rejected.record_id,
            vin,
            rejected.reason,
            rejected.revoked_by,
            rejected.revoked_at,
        )
        insert_in(connection, [row])

    return forward
