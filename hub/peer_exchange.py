"""``PeerExchange``: what a province hub serves to the other province hubs.

``Forward`` takes the sending hub's station directory and its countersigned records and answers
every record with one ``ForwardAck``, in order, after the record is committed (or refused).
Records that arrive together are checked in a worker thread and committed in one transaction.
``FetchTrustList`` hands out the newest national trust list this hub holds; ``FetchDirectory``
this hub's own station directory, freshly signed. ``Witness`` keeps the caller's newest audit
checkpoint if it is consistent with the one held, and raises an alarm if not (``hub.witness``).
this hub's own station directory, freshly signed. ``GetExemptionFacts`` and
``RecordExemptionLabel`` serve exemption applications made in another province for vehicles
registered here (hub.exemption_exchange): a peer learns the facts of one vehicle and records
labels it signed itself, never another province's.

The connection's ``peer-hub`` certificate (with TLS) must be the one the trust list names for the
province a directory or record claims to come from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
import grpc.aio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from elabel.trust_cache import TrustCache
from hub.audit_checkpoint import SignedCheckpoint
from hub.countersign import HubIdentity
from hub.envelope_check import EnvelopeLimits
from hub.errors import HubError, NoPeerDirectory, PeerDirectoryExpired, UnknownVehicle
from hub.exemption_exchange import ExemptionExchangeError, facts_reply, record_peer_label
from hub.foreign_records import ForeignOutcome, ForeignRecordRow
from hub.forwarded_record import ArrivalContext, ForwardRefused, Refusal, check_forwarded
from hub.label_book import LabelRegistry
from hub.label_federation import label_trust
from hub.merkle import HASH_SIZE
from hub.metrics import HubMetrics
from hub.published_directory import PeerStationDirectory, sign_directory
from hub.store import HubStore
from hub.trust_list import TrustList, hub_signer
from hub.vehicle_standing import StandingBook
from hub.verdict import VerdictJudge
from hub.witness import WitnessOutcome, WitnessStatus
from pki.grpc_credentials import peer_common_name
from protos.envelope import key_id_of
from protos.errors import ProtosError
from protos.tongjian.v1 import federation_pb2, inspection_pb2, labels_pb2

log = logging.getLogger(__name__)

SERVICE_NAME = federation_pb2.DESCRIPTOR.services_by_name["PeerExchange"].full_name
# Records checked and committed together; a stream's read-ahead is bounded by twice this.
MAX_BATCH = 128

_STATUS = {
    Refusal.UNKNOWN_VEHICLE: federation_pb2.FORWARD_STATUS_UNKNOWN_VEHICLE,
    Refusal.WRONG_PROVINCE: federation_pb2.FORWARD_STATUS_WRONG_PROVINCE,
    Refusal.REJECTED: federation_pb2.FORWARD_STATUS_REJECTED,
    Refusal.RETRY_LATER: federation_pb2.FORWARD_STATUS_RETRY_LATER,
}
_WITNESS_STATUS = {
    WitnessStatus.ACCEPTED: federation_pb2.WITNESS_STATUS_ACCEPTED,
    WitnessStatus.NEED_PROOF: federation_pb2.WITNESS_STATUS_NEED_PROOF,
    WitnessStatus.REFUSED: federation_pb2.WITNESS_STATUS_REFUSED,
}
# A consistency proof has at most about 2 log2(n) nodes: 128 covers any 64-bit tree size.
MAX_PROOF_NODES = 128
_OUTCOME_STATUS = {
    ForeignOutcome.STORED: federation_pb2.FORWARD_STATUS_ACCEPTED,
    ForeignOutcome.DUPLICATE: federation_pb2.FORWARD_STATUS_DUPLICATE,
    ForeignOutcome.ID_REUSED: federation_pb2.FORWARD_STATUS_REJECTED,
}


@dataclass(frozen=True, slots=True)
class PeerExchangeSettings:
    identity: HubIdentity
    national_key: Ed25519PublicKey  # the national authority's trust-list key
    limits: EnvelopeLimits
    directory_ttl: timedelta = timedelta(minutes=15)


class _EndOfStream:
    pass


_END = _EndOfStream()


class PeerExchangeService:
    def __init__(
        self,
        store: HubStore,
        settings: PeerExchangeSettings,
        judge: VerdictJudge,
        clock: Callable[[], datetime],
        require_certificate: bool,
        metrics: HubMetrics | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._judge = judge
        self._clock = clock
        self._require_certificate = require_certificate
        self._metrics = metrics
        # Verified documents, kept while the stored ones stay the same (checked with one light
        # query per batch): verifying a directory means a signature and every key in it.
        self._trust_cache: TrustList | None = None
        self._directory_cache: dict[tuple[str, str], PeerStationDirectory] = {}

    def rpc_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Forward": grpc.stream_stream_rpc_method_handler(
                    self.forward,
                    request_deserializer=federation_pb2.ForwardItem.FromString,
                    response_serializer=federation_pb2.ForwardAck.SerializeToString,
                ),
                "FetchTrustList": grpc.unary_unary_rpc_method_handler(
                    self.fetch_trust_list,
                    request_deserializer=federation_pb2.TrustListRequest.FromString,
                    response_serializer=federation_pb2.TrustListReply.SerializeToString,
                ),
                "FetchDirectory": grpc.unary_unary_rpc_method_handler(
                    self.fetch_directory,
                    request_deserializer=federation_pb2.DirectoryRequest.FromString,
                    response_serializer=federation_pb2.SignedDocument.SerializeToString,
                ),
                "Witness": grpc.unary_unary_rpc_method_handler(
                    self.witness,
                    request_deserializer=federation_pb2.WitnessRequest.FromString,
                    response_serializer=federation_pb2.WitnessReply.SerializeToString,
                ),
                "GetExemptionFacts": grpc.unary_unary_rpc_method_handler(
                    self.get_exemption_facts,
                    request_deserializer=labels_pb2.ExemptionFactsRequest.FromString,
                    response_serializer=labels_pb2.ExemptionFacts.SerializeToString,
                ),
                "RecordExemptionLabel": grpc.unary_unary_rpc_method_handler(
                    self.record_exemption_label,
                    request_deserializer=labels_pb2.ExemptionLabelRecord.FromString,
                    response_serializer=labels_pb2.ExemptionLabelRecorded.SerializeToString,
                ),
            },
        )

    # ------------------------------------------------------------ trust list and directory

    def _trust(self) -> TrustList | None:
        """The trust list in force; verified again only when another version is installed."""
        now = self._clock()
        version = self._store.trust_lists.installed_version()
        cached = self._trust_cache
        if cached is None or cached.version != version or cached.expired(now):
            cached = self._store.trust_lists.current(self._settings.national_key, now)
            self._trust_cache = cached
        return cached

    async def fetch_trust_list(
        self, request: federation_pb2.TrustListRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.TrustListReply:
        document = await asyncio.to_thread(self._store.trust_lists.current_document)
        trust = await asyncio.to_thread(self._trust)
        if document is None or trust is None or trust.version <= request.have_version:
            return federation_pb2.TrustListReply()
        return federation_pb2.TrustListReply(trust_list=document)

    async def fetch_directory(
        self, request: federation_pb2.DirectoryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.SignedDocument:
        identity = self._settings.identity
        return await asyncio.to_thread(
            sign_directory,
            self._store.directory,
            identity.province,
            identity.private_key,
            identity.signer,
            self._clock(),
            self._settings.directory_ttl,
        )

    # ------------------------------------------------------------ witnessing audit logs

    async def witness(
        self, request: federation_pb2.WitnessRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.WitnessReply:
        peer = peer_common_name(context)
        if self._require_certificate and peer is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a peer-hub client certificate is required")
        try:
            outcome = await asyncio.to_thread(self._witness, request, peer)
        except _BadWitness as error:
            await context.abort(error.code, str(error))
        if outcome.alarm and self._metrics is not None:
            self._metrics.witness_alarms.labels(request.province).inc()
        return federation_pb2.WitnessReply(
            status=_WITNESS_STATUS[outcome.status], held_size=outcome.held_size, reason=outcome.reason[:512]
        )

    def _witness(self, request: federation_pb2.WitnessRequest, peer: str | None) -> WitnessOutcome:
        province = request.province
        trust = self._trust()
        if trust is None:
            raise _BadWitness(grpc.StatusCode.UNAVAILABLE, "this hub has no valid national trust list")
        entry = trust.provinces.get(province)
        if entry is None or province == self._settings.identity.province:
            raise _BadWitness(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"province {province!r} is not a peer in trust list version {trust.version}",
            )
        if peer is not None and trust.province_of_peer(peer) != province:
            raise _BadWitness(
                grpc.StatusCode.PERMISSION_DENIED,
                f"peer certificate {peer!r} does not speak for province {province}",
            )
        if len(request.consistency_proof) > MAX_PROOF_NODES or any(
            len(node) != HASH_SIZE for node in request.consistency_proof
        ):
            raise _BadWitness(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"a consistency proof is at most {MAX_PROOF_NODES} hashes of {HASH_SIZE} bytes",
            )
        checkpoint = request.checkpoint
        return self._store.peer_checkpoints.offer(
            province,
            SignedCheckpoint(checkpoint.body, checkpoint.key_id, checkpoint.signature),
            request.old_size,
            list(request.consistency_proof),
            entry.hub_public_key,
            hub_signer(province),
            self._clock(),
        )

    # ------------------------------------------------------------ exemption applications

    async def _peer_province(self, context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
        """The calling hub's province by its certificate (None on a plaintext link)."""
        peer = peer_common_name(context)
        if peer is None:
            if self._require_certificate:
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "a peer-hub client certificate is required"
                )
            return None
        trust = await asyncio.to_thread(self._trust)
        province = trust.province_of_peer(peer) if trust is not None else None
        if province is None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"peer {peer!r} is not in the trust list")
        return province

    async def get_exemption_facts(
        self, request: labels_pb2.ExemptionFactsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> labels_pb2.ExemptionFacts:
        await self._peer_province(context)
        standing = StandingBook(self._store.database)
        try:
            return await asyncio.to_thread(facts_reply, self._store.vehicles, standing, request.vin)
        except UnknownVehicle as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))

    async def record_exemption_label(
        self, request: labels_pb2.ExemptionLabelRecord, context: grpc.aio.ServicerContext[Any, Any]
    ) -> labels_pb2.ExemptionLabelRecorded:
        caller = await self._peer_province(context)
        trust = label_trust(await asyncio.to_thread(self._trust))
        if caller is not None:  # a peer records only labels it signed itself
            trust = TrustCache(tuple(k for k in trust.hub_keys if k.province == caller))
        labels = LabelRegistry(self._store.database, self._clock)
        try:
            stored = await asyncio.to_thread(
                record_peer_label, labels, self._store.vehicles, trust, request.token, request.due_date
            )
        except UnknownVehicle as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except ExemptionExchangeError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return labels_pb2.ExemptionLabelRecorded(token=stored.token)

    # ------------------------------------------------------------ forwarded records

    async def forward(
        self,
        request_iterator: AsyncIterator[federation_pb2.ForwardItem],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[federation_pb2.ForwardAck]:
        peer = peer_common_name(context)
        if self._require_certificate and peer is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a peer-hub client certificate is required")
        queue: asyncio.Queue[federation_pb2.ForwardItem | _EndOfStream] = asyncio.Queue(2 * MAX_BATCH)
        reader = asyncio.create_task(self._read(request_iterator, queue))
        try:
            ended = False
            while not ended:
                batch: list[federation_pb2.ForwardItem] = []
                item = await queue.get()
                while True:
                    if isinstance(item, _EndOfStream):
                        ended = True
                        break
                    batch.append(item)
                    if len(batch) >= MAX_BATCH or queue.empty():
                        break
                    item = queue.get_nowait()
                try:
                    acks = await asyncio.to_thread(self._take, batch, peer)
                except HubError as error:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
                for ack in acks:
                    yield ack
            await reader  # re-raises what broke the stream
        finally:
            reader.cancel()

    @staticmethod
    async def _read(
        request_iterator: AsyncIterator[federation_pb2.ForwardItem],
        queue: asyncio.Queue[federation_pb2.ForwardItem | _EndOfStream],
    ) -> None:
        try:
            async for item in request_iterator:
                await queue.put(item)
        finally:
            await queue.put(_END)

    def _take(
        self, batch: list[federation_pb2.ForwardItem], peer: str | None
    ) -> list[federation_pb2.ForwardAck]:
        """Check and commit one batch (worker thread): directories as they come, records in runs."""
        acks: list[federation_pb2.ForwardAck] = []
        run: list[federation_pb2.SignedDocument] = []
        for item in batch:
            kind = item.WhichOneof("item")
            if kind == "record":
                run.append(item.record)
            elif kind == "directory":
                acks.extend(self._records(run, peer))
                run = []
                self._directory(item.directory, peer)
            else:
                raise _BadItem("a ForwardItem with neither directory nor record")
        acks.extend(self._records(run, peer))
        return acks

    def _directory(self, document: federation_pb2.SignedDocument, peer: str | None) -> None:
        now = self._clock()
        trust = self._trust()
        if trust is None:
            log.warning("a peer sent its station directory, but this hub has no national trust list")
            return
        try:
            province = federation_pb2.StationDirectory.FromString(document.body).province
        except DecodeError as error:
            raise _BadItem(f"station directory does not parse: {error}") from error
        entry = trust.provinces.get(province)
        if entry is None:
            raise _BadItem(
                f"station directory of province {province!r}, which trust list version {trust.version} does not name"
            )
        if peer is not None and trust.province_of_peer(peer) != province:
            raise _BadItem(f"peer certificate {peer!r} does not speak for province {province}")
        try:
            self._store.peer_directories.offer(province, document, entry.hub_public_key, now)
        except (HubError, ProtosError) as error:
            raise _BadItem(f"station directory of province {province}: {error}") from error

    def _records(
        self, documents: list[federation_pb2.SignedDocument], peer: str | None
    ) -> list[federation_pb2.ForwardAck]:
        if not documents:
            return []
        now = self._clock()
        trust = self._trust()
        answers: list[federation_pb2.ForwardAck | ForeignRecordRow] = []
        if trust is None:
            return [
                federation_pb2.ForwardAck(
                    status=federation_pb2.FORWARD_STATUS_RETRY_LATER,
                    reason="this hub has no valid national trust list",
                )
                for _ in documents
            ]
        held = {row.province: row for row in self._store.peer_directories.all()}

        def directory(province: str, key: Ed25519PublicKey) -> PeerStationDirectory:
            row = held.get(province)
            if row is None:
                raise NoPeerDirectory(province)
            cache_key = (province, key_id_of(hub_signer(province), key))
            cached = self._directory_cache.get(cache_key)
            if cached is None or (cached.sequence, cached.issued_at) != (row.sequence, row.issued_at):
                cached = self._store.peer_directories.get_any(province, key, now)
                self._directory_cache[cache_key] = cached
            if cached.expired(now):
                raise PeerDirectoryExpired(province, cached.sequence, cached.valid_until, now)
            return cached

        known = self._store.vehicles.known(_vins(documents))
        context = ArrivalContext(
            own_province=self._settings.identity.province,
            trust=trust,
            directory=directory,
            knows_vehicle=known.__contains__,
            limits=self._settings.limits,
            judge=self._judge,
        )
        for document in documents:
            try:
                answers.append(check_forwarded(document, peer, context, now))
            except ForwardRefused as refused:
                log.info("forwarded record %s refused: %s", refused.record_id or "(unnamed)", refused.reason)
                answers.append(
                    federation_pb2.ForwardAck(
                        station_id=refused.station_id,
                        record_id=refused.record_id,
                        status=_STATUS[refused.refusal],
                        reason=refused.reason[:512],
                    )
                )
        rows = [answer for answer in answers if isinstance(answer, ForeignRecordRow)]
        outcomes = iter(self._store.foreign_records.commit(rows))
        acks: list[federation_pb2.ForwardAck] = []
        for answer in answers:
            if isinstance(answer, ForeignRecordRow):
                outcome = next(outcomes)
                acks.append(
                    federation_pb2.ForwardAck(
                        station_id=answer.station_id,
                        record_id=answer.record_id,
                        status=_OUTCOME_STATUS[outcome],
                        reason="record id reused with different content"
                        if outcome is ForeignOutcome.ID_REUSED
                        else "",
                    )
                )
            else:
                acks.append(answer)
        return acks


class _BadWitness(HubError):
    """A Witness call this hub will not consider at all (not evidence about the caller's log)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _vins(documents: list[federation_pb2.SignedDocument]) -> set[str]:
    """The VINs the records claim, read before anything is verified: one register query per batch
    (a record's VIN is checked against the set only after its signatures verify)."""
    vins = set()
    for document in documents:
        try:
            body = federation_pb2.ForwardBody.FromString(document.body)
            envelope = inspection_pb2.SignedRecord.FromString(body.station_envelope)
            vins.add(inspection_pb2.InspectionRecord.FromString(envelope.record).vehicle.vin)
        except DecodeError:
            continue
    return vins


class _BadItem(HubError):
    """A stream item that is not what the protocol allows: the stream ends INVALID_ARGUMENT."""
