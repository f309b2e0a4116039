"""E-labels across provinces: which hub holds a vehicle's facts, and which hub keys labels are
checked against, both from the national trust list (hub.trust_list).

The label key of a federated hub is its hub key, the one the trust list names. The trust list
is therefore also the list of label keys: a label signed by any province hub verifies wherever
that list is installed, and ``tongjian label sync`` hands it out.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc.aio

from elabel.keys import raw_public_key
from elabel.trust_cache import HubKey, TrustCache
from hub.exemption import LocalRegistration, RegistrationHub
from hub.exemption_exchange import RemoteRegistration
from hub.trust_list import ProvinceHubEntry, TrustList
from protos.tongjian.v1 import federation_pb2_grpc

ChannelFactory = Callable[[ProvinceHubEntry], grpc.aio.Channel]


def label_trust(trust: TrustList | None) -> TrustCache:
    """The province hub keys of the trust list, as label keys (empty without a list)."""
    if trust is None:
        return TrustCache(())
    keys = tuple(
        HubKey(entry.province, raw_public_key(entry.hub_public_key))
        for _, entry in sorted(trust.provinces.items())
    )
    return TrustCache(keys)


class _PeerStub:
    """A PeerExchange stub on a channel opened for each call and closed after it (an exemption
    application is rare next to forwarding; no link is held open for it)."""

    def __init__(self, open_channel: Callable[[], grpc.aio.Channel]) -> None:
        self._open = open_channel

    async def GetExemptionFacts(self, request: object, timeout: float) -> object:
        async with self._open() as channel:
            return await federation_pb2_grpc.PeerExchangeStub(channel).GetExemptionFacts(
                request, timeout=timeout
            )

    async def RecordExemptionLabel(self, request: object, timeout: float) -> object:
        async with self._open() as channel:
            return await federation_pb2_grpc.PeerExchangeStub(channel).RecordExemptionLabel(
                request, timeout=timeout
            )


class LabelRegistrations:
    """``province -> RegistrationHub``: this hub's store for its own province, the peer link to
    the trust list's hub for any other; None for a province no installed trust list names."""

    def __init__(
        self,
        own_province: str,
        local: LocalRegistration,
        trust: Callable[[], TrustList | None],
        channels: ChannelFactory | None,
    ) -> None:
        self._own = own_province
        self._local = local
        self._trust = trust
        self._channels = channels

    def __call__(self, province: str) -> RegistrationHub | None:
        if province == self._own:
            return self._local
        trust = self._trust()
        if trust is None or self._channels is None or province not in trust.provinces:
            return None
        entry = trust.provinces[province]
        channels = self._channels
        return RemoteRegistration(_PeerStub(lambda: channels(entry)), lambda: label_trust(self._trust()))

    def peer_label_keys(self) -> list[tuple[str, bytes]]:
        return [(key.province, key.public_key) for key in label_trust(self._trust()).hub_keys]
