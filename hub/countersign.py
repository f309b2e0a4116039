"""The inspecting hub's countersignature on a record of another province's vehicle.

A record goes to another hub when its vehicle's registration province is not this hub's. The
forwarded document (``ForwardBody``) carries the station's envelope exactly as the station sent
it, the hub's trusted receive time and its recomputed verdict; the hub signs it with its own
Ed25519 key (the key the national trust list names for this province). The registration hub
checks both signatures: the countersignature against the trust list, the station's against this
hub's signed station directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from hub.forward_outbox import ForwardRow
from hub.trust_list import hub_signer
from hub.verdict import verdict_to_json
from inspection import Verdict
from protos.envelope import key_id_of
from protos.tongjian.v1 import federation_pb2


@dataclass(frozen=True, slots=True)
class HubIdentity:
    """Who this hub is in the federation: its province and its signing key."""

    province: str
    private_key: Ed25519PrivateKey

    @property
    def signer(self) -> str:
        return hub_signer(self.province)

    @property
    def key_id(self) -> str:
        return key_id_of(self.signer, self.private_key.public_key())


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


class Countersigner:
    """Decides whether a stored record goes elsewhere and, if so, makes its outbox item."""

    def __init__(self, identity: HubIdentity, directory_sequence: Callable[[], int]) -> None:
        self._identity = identity
        self._key_id = identity.key_id
        self._directory_sequence = directory_sequence

    def forward_row(
        self,
        station_envelope: bytes,
        station_id: str,
        record_id: str,
        vin: str,
        registration_province: str,
        received_at: datetime,
        hub_verdict: Verdict | None,
    ) -> ForwardRow | None:
        """The outbox item for a record of another province's vehicle; None for a local one."""
        if registration_province == self._identity.province:
            return None
        body = federation_pb2.ForwardBody(
            from_province=self._identity.province,
            to_province=registration_province,
            station_envelope=station_envelope,
            received_at=timestamp(received_at),
            hub_overall=hub_verdict.overall.value if hub_verdict is not None else "",
            hub_verdict_json=(
                json.dumps(verdict_to_json(hub_verdict), ensure_ascii=False, sort_keys=True)
                if hub_verdict is not None
                else ""
            ),
            directory_sequence=self._directory_sequence(),
        ).SerializeToString()
        return ForwardRow(
            to_province=registration_province,
            station_id=station_id,
            record_id=record_id,
            vin=vin,
            body=body,
            key_id=self._key_id,
            signature=self._identity.private_key.sign(body),
            created_at=received_at,
        )
