"""Showing this hub's audit checkpoints to its peers: one ``PeerExchange.Witness`` call per peer
province of the trust list, every interval (and when woken), with the newest signed checkpoint.

The peer answers with the size of this hub's log it holds. When it asks for a proof
(``NEED_PROOF``), the consistency proof from that size is computed from the stored checkpoint of
that size (reading only the entries since) and the call is made again; the size each peer holds
is remembered, so later rounds need one call. A peer that REFUSES has raised an alarm about this
hub's log: it is logged as an error here too (``tongjian_hub_witness_calls{outcome="refused"}``).
A peer that cannot be reached is tried again next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from hub.audit_checkpoint import CheckpointKey
from hub.audit_tree import AuditTreeError, StoredCheckpoint
from hub.forwarder import ChannelFactory
from hub.metrics import HubMetrics
from hub.store import HubStore
from hub.trust_list import ProvinceHubEntry, TrustList
from protos.tongjian.v1 import federation_pb2

log = logging.getLogger(__name__)

_WITNESS = "/tongjian.v1.PeerExchange/Witness"
_OUTCOME = {
    federation_pb2.WITNESS_STATUS_ACCEPTED: "accepted",
    federation_pb2.WITNESS_STATUS_NEED_PROOF: "need_proof",
    federation_pb2.WITNESS_STATUS_REFUSED: "refused",
}


@dataclass(frozen=True, slots=True)
class WitnessResult:
    """The last answer of one peer."""

    province: str
    size: int  # the checkpoint shown
    status: str  # accepted / refused / need_proof / unreachable
    held_size: int
    reason: str = ""


class Witnesser:
    def __init__(
        self,
        store: HubStore,
        key: CheckpointKey,
        province: str,
        trust: Callable[[], TrustList | None],
        channel_factory: ChannelFactory,
        interval_s: float,
        metrics: HubMetrics | None = None,
        call_timeout_s: float = 30.0,
    ) -> None:
        self._store = store
        self._key = key
        self._province = province
        self._trust = trust
        self._channel_factory = channel_factory
        self._interval_s = interval_s
        self._metrics = metrics
        self._call_timeout_s = call_timeout_s
        self._held: dict[str, int] = {}
        self.results: dict[str, WitnessResult] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit witnesser")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.witness_round()
            except Exception as error:  # noqa: BLE001 - a bad round must not end witnessing
                log.warning("audit witnessing round failed: %r", error)
            with contextlib.suppress(TimeoutError):
                # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()

    async def witness_round(self) -> list[WitnessResult]:
        """Show the newest checkpoint to every peer of the trust list, one at a time."""
        latest = await asyncio.to_thread(self._store.audit_tree.latest)
        trust = await asyncio.to_thread(self._trust)
        if latest is None or trust is None:
            return []
        results = []
        for province, entry in sorted(trust.provinces.items()):
            if province == self._province:
                continue
            result = await self._witness(entry, latest)
            self.results[province] = result
            results.append(result)
            if self._metrics is not None:
                self._metrics.witness_calls.labels(province, result.status).inc()
            if result.status == "refused":
                log.error(
                    "peer %s REFUSED this hub's audit checkpoint of size %d: %s",
                    province,
                    latest.size,
                    result.reason,
                )
        return results

    async def _witness(self, entry: ProvinceHubEntry, latest: StoredCheckpoint) -> WitnessResult:
        province = entry.province
        try:
            async with self._channel_factory(entry) as channel:
                method: Any = channel.unary_unary(
                    _WITNESS,
                    request_serializer=federation_pb2.WitnessRequest.SerializeToString,
                    response_deserializer=federation_pb2.WitnessReply.FromString,
                )
                reply = await self._call(method, latest, self._held.get(province, 0))
                if reply.status == federation_pb2.WITNESS_STATUS_NEED_PROOF:
                    reply = await self._call(method, latest, reply.held_size)
        except grpc.aio.AioRpcError as error:
            log.info("audit witness %s unreachable: %s %s", province, error.code().name, error.details())
            return WitnessResult(
                province, latest.size, "unreachable", self._held.get(province, 0), str(error.details())
            )
        except AuditTreeError as error:
            log.error("audit witness %s: no proof from its size: %s", province, error)
            return WitnessResult(province, latest.size, "no_proof", self._held.get(province, 0), str(error))
        status = _OUTCOME.get(reply.status, "unknown")
        if status == "accepted":
            self._held[province] = reply.held_size
        return WitnessResult(province, latest.size, status, reply.held_size, reply.reason)

    async def _call(
        self, method: Any, latest: StoredCheckpoint, held_size: int
    ) -> federation_pb2.WitnessReply:
        proof: list[bytes] = []
        if 0 < held_size < latest.size:
            proof = await asyncio.to_thread(self._store.audit_tree.proof_for_peer, held_size, latest)
        request = federation_pb2.WitnessRequest(
            province=self._province,
            checkpoint=federation_pb2.SignedDocument(
                body=latest.signed.body, key_id=latest.signed.key_id, signature=latest.signed.signature
            ),
            old_size=held_size,
            consistency_proof=proof,
        )
        reply: federation_pb2.WitnessReply = await method(request, timeout=self._call_timeout_s)
        return reply
