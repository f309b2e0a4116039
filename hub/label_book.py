"""The labels this hub issued: issuing for passed records, storing exemption labels once,
revoking, and the hub's signed revocation list (the token format is ``elabel``; docs/labels.md).

Issuing for records is a pass over ``records.seq`` from a stored cursor (``label_issuer_cursor``):
every record after the cursor whose hub verdict is a pass and that has no label yet gets one, in
one transaction that inserts ignoring duplicates (``uq_labels_record``), so two replicas issuing
at once store one label per record. The cursor moves only over records received at least
``settle`` ago: a record with a lower seq can commit after one with a higher seq (concurrent
writers), and must not be stepped over; a record seen twice is only signed twice, not stored twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, func, select, update

from elabel.claims import CHINA_TIME, LabelClaims, LabelType
from elabel.keys import HubLabelKey
from elabel.label_text import sign_label
from elabel.revocation import Revocation, RevocationList, sign_revocation_list
from hub.audit import AuditEntry, append_audit
from hub.db import Database, insert_ignoring_duplicates
from hub.errors import UnknownLabel
from hub.models import Label, LabelIssuerCursor, Record, RecordRevocation
from inspection.exemption_rules import inspection_label_valid_until
from inspection.inspection_schedule import ScheduledVehicle
from inspection.vehicle import Vehicle, VehicleClass
from inspection.verdict import Outcome
from protos.record_mapping import MalformedRecord, record_head_from_bytes

log = logging.getLogger(__name__)

LABEL_REVOKED = "label_revoked"


@dataclass(frozen=True, slots=True)
class StoredLabel:
    claims: LabelClaims
    token: str
    record_seq: int | None
    revoked_at: datetime | None
    revoked_reason: str | None


@dataclass(frozen=True, slots=True)
class IssuePass:
    scanned: int  # passed records after the cursor without a label, looked at
    issued: int  # labels this pass stored (another replica may have stored the rest)
    cursor: int  # the cursor after the pass
    more: bool = False  # records left wanting a label (the batch was full, or the time was up)


def scheduled_vehicle(vehicle: Vehicle) -> ScheduledVehicle:
    return ScheduledVehicle(
        vehicle.vehicle_class, vehicle.use, vehicle.seats, vehicle.van, vehicle.registration_date
    )


def china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA_TIME).date()


def inspection_serial(province: str, record_seq: int) -> str:
    return f"{province}-I-{record_seq:010d}"


def exemption_serial(province: str, vin: str, due: date) -> str:
    """One exemption label per vehicle and due point: deciding the same application twice
    yields the same serial, and the second insert is a no-op."""
    return f"{province}-E-{vin}-{due:%Y%m%d}"


def _stored(row: Label) -> StoredLabel:
    claims = LabelClaims(
        label_type=LabelType(row.label_type),
        vin=row.vin,
        plate=row.plate,
        vehicle_class=VehicleClass(row.vehicle_class),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        issuer_province=row.issuer_province,
        serial=row.serial,
        issued_at=row.issued_at,
    )
    return StoredLabel(claims, row.token, row.record_seq, row.revoked_at, row.revoked_reason)


def _row(
    claims: LabelClaims, token: str, kid: bytes, record_seq: int | None, due: date | None = None
) -> dict[str, object]:
    return {
        "serial": claims.serial,
        "label_type": claims.label_type.value,
        "record_seq": record_seq,
        "vin": claims.vin,
        "plate": claims.plate,
        "vehicle_class": claims.vehicle_class.value,
        "valid_from": claims.valid_from,
        "valid_until": claims.valid_until,
        "issuer_province": claims.issuer_province,
        "key_id": kid.hex(),
        "token": token,
        "issued_at": claims.issued_at,
        "revoked_at": None,
        "revoked_reason": None,
        "due_date": due,
    }


class LabelRegistry:
    """The labels table without the hub's key: reads and revocation (the CLI, post-review)."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._database = database
        self._clock = clock

    def get(self, serial: str) -> StoredLabel | None:
        with self._database.read() as session:
            row = session.get(Label, serial)
            return None if row is None else _stored(row)

    def for_record(self, record_seq: int) -> StoredLabel | None:
        with self._database.read() as session:
            row = session.scalars(select(Label).where(Label.record_seq == record_seq)).first()
            return None if row is None else _stored(row)

    def by_vin(self, vin: str) -> list[StoredLabel]:
        with self._database.read() as session:
            rows = session.scalars(
                select(Label).where(Label.vin == vin).order_by(Label.issued_at, Label.serial)
            )
            return [_stored(row) for row in rows]

    def revoke_label(self, serial: str, reason: str, at: datetime | None = None) -> StoredLabel:
        """Revoke a label (post-review rejected its record, ...). Revoking a revoked label keeps
        the first revocation; an unknown serial raises ``UnknownLabel``."""
        when = at or self._clock()
        with self._database.writer.begin() as connection:
            revoke_label_in(connection, serial, reason, when)
        stored = self.get(serial)
        if stored is None:
            raise UnknownLabel(f"no label with serial {serial!r} was issued by this hub")
        return stored

    def exemption_for(self, vin: str, due: date) -> StoredLabel | None:
        with self._database.read() as session:
            row = session.scalars(select(Label).where(Label.vin == vin, Label.due_date == due)).first()
            return None if row is None else _stored(row)

    def record_exemption(self, claims: LabelClaims, token: str, kid: bytes, due: date) -> StoredLabel:
        """Store an exemption label (this hub's, or one another hub issued for a vehicle registered
        here) unless the vehicle has one for ``due``; the stored one either way (uq_labels_exemption_due)."""
        table = Label.metadata.tables[Label.__tablename__]
        with self._database.writer.begin() as connection:
            connection.execute(
                insert_ignoring_duplicates(connection.dialect.name, table),
                [_row(claims, token, kid, None, due)],
            )
        stored = self.exemption_for(claims.vin, due)
        assert stored is not None  # just inserted, or there before
        return stored

    def revoke_for_record(self, station_id: str, record_id: str, reason: str) -> StoredLabel | None:
        """Revoke the inspection label issued for a record (post-review rejected it); None when
        the record has no label (not passed, or not yet reached by the issuer)."""
        with self._database.writer.begin() as connection:
            serial = revoke_record_label_in(connection, station_id, record_id, reason, self._clock())
        return None if serial is None else self.get(serial)


class LabelBook(LabelRegistry):
    """The registry plus the hub's label key: issuing, and the signed revocation list."""

    def __init__(
        self,
        database: Database,
        key: HubLabelKey,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle: timedelta = timedelta(seconds=30),
    ) -> None:
        super().__init__(database, clock)
        self.key = key
        self._settle = settle

    # ------------------------------------------------------------ inspection labels

    def _inspection_claims(self, seq: int, payload: bytes, now: datetime) -> LabelClaims | None:
        try:
            record = record_head_from_bytes(payload)  # the measurements are not needed here
        except MalformedRecord as exc:  # stored records were checked at ingest: log, never stop
            log.error("record seq %d does not decode; no label issued: %s", seq, exc)
            return None
        passed_on = china_day(record.finished_at)
        vehicle = record.vehicle
        return LabelClaims(
            label_type=LabelType.INSPECTION,
            vin=vehicle.vin,
            plate=vehicle.plate,
            vehicle_class=vehicle.vehicle_class,
            valid_from=passed_on,
            valid_until=inspection_label_valid_until(scheduled_vehicle(vehicle), passed_on),
            issuer_province=self.key.province,
            serial=inspection_serial(self.key.province, seq),
            issued_at=now.replace(microsecond=0),
        )

    def issue_pending(self, limit: int = 200, budget_s: float | None = None) -> IssuePass:
        """One pass: label up to ``limit`` passed records after the cursor that have none yet,
        then move the cursor over the records that have settled.

        Only records still wanting a label are read (with their payloads): a record labelled or
        refused drops out of the next pass. Why it matters: the cursor trails the newest record
        by ``settle``, and a pass that re-read every record of that window found a full batch
        each time at more than ``limit / settle`` records/s, so ``LabelIssuer.catch_up`` re-read
        the same 200 payloads without end (12 % of a busy hub's CPU, measured).

        ``budget_s``: stop signing after this long (a label costs about 1 ms of Python: a second's
        worth of labels signed in one go held the GIL from the hub's event loop and the Acks of
        that moment waited 200 ms); what is left is ``more`` for the next pass.
        """
        now = self._clock()
        labels: list[dict[str, object]] = []
        deadline = None if budget_s is None else time.monotonic() + budget_s
        handled = 0
        with self._database.read() as session:
            cursor = session.scalars(select(LabelIssuerCursor.seq).where(LabelIssuerCursor.id == 1)).one()
            # Numbers first, each payload when its turn comes: a pass may stop at its budget.
            wanting = session.scalars(
                select(Record.seq)
                .outerjoin(Label, Label.record_seq == Record.seq)
                # A result post-review already rejected earns no label.
                .outerjoin(RecordRevocation, RecordRevocation.record_seq == Record.seq)
                .where(
                    Record.seq > cursor,
                    Record.hub_overall == Outcome.PASS.value,
                    Label.serial.is_(None),
                    RecordRevocation.record_seq.is_(None),
                )
                .order_by(Record.seq)
                .limit(limit)
            ).all()
            first_young = session.scalar(
                select(func.min(Record.seq)).where(
                    Record.seq > cursor, Record.received_at > now - self._settle
                )
            )
            newest = session.scalar(select(func.max(Record.seq))) or 0
            for seq in wanting:
                if handled and deadline is not None and time.monotonic() > deadline:
                    break
                handled += 1
                payload = session.scalars(select(Record.payload).where(Record.seq == seq)).one()
                claims = self._inspection_claims(seq, bytes(payload), now)
                if claims is not None:
                    labels.append(_row(claims, sign_label(claims, self.key), self.key.kid, seq))
        settled_to = newest if first_young is None else first_young - 1
        if handled < len(wanting):  # the cursor stays before what is left
            settled_to = min(settled_to, wanting[handled] - 1)
        elif len(wanting) == limit:  # records past the batch may still want labels
            settled_to = min(settled_to, wanting[-1])
        issued = 0
        with self._database.writer.begin() as connection:
            if labels:
                table = Label.metadata.tables[Label.__tablename__]
                statement = insert_ignoring_duplicates(connection.dialect.name, table).returning(
                    table.c.serial
                )
                issued = len(connection.execute(statement, labels).all())
            if settled_to > cursor:
                connection.execute(
                    update(LabelIssuerCursor)
                    .where(LabelIssuerCursor.id == 1, LabelIssuerCursor.seq < settled_to)
                    .values(seq=settled_to)
                )
        more = handled < len(wanting) or len(wanting) == limit
        return IssuePass(handled, issued, max(cursor, settled_to), more)

    # ------------------------------------------------------------ exemption labels

    def store_exemption(self, claims: LabelClaims, due: date) -> StoredLabel:
        """Sign and store an exemption label answering the due point ``due``, unless the vehicle
        has one for it already; either way, the label stored for that due point."""
        if claims.label_type is not LabelType.EXEMPTION:
            raise ValueError("store_exemption is for exemption labels")
        return self.record_exemption(claims, sign_label(claims, self.key), self.key.kid, due)

    # ------------------------------------------------------------ revocation list

    def revocation_list(self) -> RevocationList:
        now = self._clock().replace(microsecond=0)
        with self._database.read() as session:
            rows = session.execute(
                select(Label.serial, Label.revoked_at, Label.revoked_reason)
                .where(Label.revoked_at.is_not(None), Label.issuer_province == self.key.province)
                .order_by(Label.revoked_at, Label.serial)
            ).all()
        revocations = tuple(
            Revocation(serial, revoked_at.replace(microsecond=0), reason or "")
            for serial, revoked_at, reason in rows
            if revoked_at is not None  # the query asked for revoked rows only; this tells mypy
        )
        return RevocationList(self.key.province, now, revocations)

    def signed_revocation_list(self) -> bytes:
        return sign_revocation_list(self.revocation_list(), self.key)


def revoke_label_in(connection: Connection, serial: str, reason: str, at: datetime) -> bool:
    """Revoke ``serial`` inside the caller's transaction (audited there); False if it was already
    revoked or is unknown."""
    changed = connection.execute(
        update(Label)
        .where(Label.serial == serial, Label.revoked_at.is_(None))
        .values(revoked_at=at, revoked_reason=reason)
    ).rowcount
    if changed:
        append_audit(connection, [AuditEntry(LABEL_REVOKED, f"{serial}: {reason}", at=at)])
    return bool(changed)


def revoke_record_label_in(
    connection: Connection, station_id: str, record_id: str, reason: str, at: datetime
) -> str | None:
    """Revoke the inspection label of a record inside the caller's transaction (a post-review
    rejection's); its serial, or None when the record has no label."""
    serial = connection.execute(
        select(Label.serial)
        .join(Record, Record.seq == Label.record_seq)
        .where(Record.station_id == station_id, Record.record_id == record_id)
    ).scalar()
    if serial is None:
        return None
    revoke_label_in(connection, serial, reason, at)
    return str(serial)
