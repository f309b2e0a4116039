"""The peer provinces' CAs a TLS hub trusts, following the installed national trust list while it runs.

A federated hub admits another province's ``peer-hub`` certificate because the trust list names
the CA that issues it (``docs/design/federation.md``). The list changes while hubs run: an
operator runs ``tongjian hub trust-list install`` (another process, writing this hub's database),
the forwarder takes a newer list a peer holds (this process), or another replica of this hub
installs one. ``PeerTrustAnchors`` keeps the anchors of the list in force in memory, as one
immutable ``Anchors`` value replaced whole, and serves both layers that check a peer:

- **TLS.** The gRPC server's credentials (``pki.grpc_credentials.reloading_server_credentials``)
  ask ``tls_configuration`` before every new connection's handshake, on a gRPC thread. It compares
  two integers and returns a new configuration (this hub's certificate; its own client CA and every
  peer CA) only when the anchors changed since it last handed one out, else None; it never touches
  the database or the event loop.
- **Each call.** ``hub.access.RoleGate`` asks ``check_peer_hub`` for every call made with a
  ``peer-hub`` certificate. It first looks at the installed version (one ``max(version)`` query, in
  a worker thread) and reloads the list if it changed, then wants the certificate's common name to
  be a province hub's peer name in the list and the certificate issued by the CA the list names
  for that province. An HTTP/2 connection admitted under an older list stays open (TLS checks
  once per connection), but every call on it meets the list in force.

How soon a new list applies (the bound, also in ``docs/design/federation.md``):

- a list this process installs (the forwarder's ``offer``): at once, ``refresh`` runs right after;
- to every call made with a peer-hub certificate: at once, whoever installed it (see above);
- to new TLS handshakes of a list another process installed: within ``refresh_s``
  (``FederationConfig.trust_list_refresh_s``, 5 s by default), the watcher's polling interval, or
  sooner if a peer-hub call came in since.

Fail closed: when the newest installed list is expired or no longer verifies, no peer CA is
trusted (only this hub's own client CA) until a valid newer one is installed - the hub does not
fall back to an older list, which may name a removed province or a replaced CA
(``TrustListStore.current``). A province whose peer CA is not valid now is left out, and logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import TrustListInvalid
from hub.trust_list import ProvinceHubEntry, TrustList, TrustListStore
from pki.grpc_credentials import ServerIdentity, issued_by_any, server_certificate_configuration
from pki.pem_files import PkiError, check_valid_now, is_ca, parse_certificates, read_pem

__all__ = ["Anchors", "PeerProvince", "PeerTrustAnchors"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeerProvince:
    """A province hub as the list in force vouches for it: its code and its peer CAs."""

    province: str
    cas: tuple[x509.Certificate, ...]


@dataclass(frozen=True, slots=True)
class Anchors:
    """What one trust list version makes this hub trust; replaced whole, never changed."""

    generation: int  # +1 each time the anchors are rebuilt: what the TLS fetcher compares
    version: int  # the installed trust list version they were built from; 0: none installed
    not_after: datetime | None  # the list's; None when no list is in force (none, or unusable)
    peers: Mapping[str, PeerProvince]  # by the common name of the province's peer-hub certificate
    configuration: grpc.ServerCertificateConfiguration

    def stale(self, installed_version: int, now: datetime) -> bool:
        """Whether another version was installed, or the list these came from has expired."""
        return installed_version != self.version or (self.not_after is not None and now > self.not_after)


class PeerTrustAnchors:
    """The peer CAs of the trust list in force, kept current while the hub runs."""

    def __init__(
        self,
        identity: ServerIdentity,
        home_ca_pem: bytes,
        trust_lists: TrustListStore,
        national_key: Ed25519PublicKey,
        clock: Callable[[], datetime],
        refresh_s: float,
    ) -> None:
        self._identity = identity
        self._home_ca_pem = home_ca_pem.rstrip(b"\n") + b"\n"
        self._trust_lists = trust_lists
        self._national_key = national_key
        self._clock = clock
        self._refresh_s = refresh_s
        self._lock = threading.Lock()  # one rebuild at a time (the watcher, gate calls, an offer)
        self._anchors: Anchors | None = None
        self._served_generation = 0

    @property
    def anchors(self) -> Anchors:
        if self._anchors is None:
            raise RuntimeError("PeerTrustAnchors.load has not been called")
        return self._anchors

    def load(self) -> None:
        """Read the list in force, at start, before anything may ask (the forwarder may offer a
        list before the server listens).

        Raises ``PkiError`` if the hub's own client CA is unusable, ``SQLAlchemyError`` if the
        database cannot be read: a hub that cannot know whom to trust does not start."""
        with self._lock:
            self._anchors = self._build(self._trust_lists.installed_version(), 1)

    def initial_tls_configuration(self) -> grpc.ServerCertificateConfiguration:
        """The configuration the TLS server starts with: the anchors held now."""
        anchors = self.anchors
        self._served_generation = anchors.generation
        return anchors.configuration

    def refresh(self) -> bool:
        """Rebuild the anchors if another list version was installed or the list expired; True if
        they changed. Blocks on the database: call it in a worker thread."""
        installed = self._trust_lists.installed_version()
        now = self._clock()
        if not self.anchors.stale(installed, now):
            return False
        with self._lock:
            held = self.anchors
            if not held.stale(installed, now):  # rebuilt by another thread meanwhile
                return False
            self._anchors = self._build(installed, held.generation + 1)
        return True

    async def refresh_quietly(self) -> None:
        """``refresh`` in a worker thread; a failure is logged and the anchors held stay in force."""
        try:
            await asyncio.to_thread(self.refresh)
        except (SQLAlchemyError, PkiError) as error:
            log.error("could not reload the peer provinces' CAs from the trust list: %s", error)

    async def watch(self) -> None:
        """Notice lists installed by other processes: poll the installed version every ``refresh_s``."""
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh_quietly()

    # ------------------------------------------------------------ what the two layers ask

    def tls_configuration(self) -> grpc.ServerCertificateConfiguration | None:
        """For gRPC, before each new handshake: the new configuration if the anchors changed since
        the last one handed out, else None (keep it). Reads two integers; safe from any thread."""
        anchors = self.anchors
        if anchors.generation == self._served_generation:
            return None
        # Two handshakes racing here may both hand out the same configuration: harmless.
        self._served_generation = anchors.generation
        return anchors.configuration

    async def check_peer_hub(
        self, common_name: str | None, certificate: x509.Certificate | None
    ) -> str | None:
        """Why the list in force does not vouch for this peer-hub certificate; None if it does."""
        await self.refresh_quietly()
        anchors = self.anchors
        if common_name is None or certificate is None:
            return "no client certificate"
        peer = anchors.peers.get(common_name)
        if peer is None:
            return (
                f"peer-hub certificate {common_name!r} names no province hub in trust list "
                f"version {anchors.version}" + ("" if anchors.not_after is not None else " (not in force)")
            )
        if not issued_by_any(certificate, peer.cas):
            return (
                f"peer-hub certificate {common_name!r} was not issued by the CA trust list version "
                f"{anchors.version} names for province {peer.province} (it was issued by "
                f"{certificate.issuer.rfc4514_string()})"
            )
        return None

    # ------------------------------------------------------------ building

    def _build(self, installed: int, generation: int) -> Anchors:
        now = self._clock()
        trust: TrustList | None
        try:
            trust = self._trust_lists.current(self._national_key, now)
        except TrustListInvalid as error:
            log.error(
                "trust list version %d is not in force (%s): no peer province is trusted until a "
                "valid newer list is installed",
                installed,
                error,
            )
            trust = None
        peers: dict[str, PeerProvince] = {}
        bundle = [self._home_ca_pem]
        if trust is not None:
            for province in sorted(trust.provinces):
                entry = trust.provinces[province]
                cas = _usable_cas(entry)
                if not cas:
                    continue
                peers[entry.peer_name] = PeerProvince(province, cas)
                for ca in cas:
                    pem = ca.public_bytes(Encoding.PEM)
                    if pem not in bundle:
                        bundle.append(pem)
        configuration = server_certificate_configuration(self._identity, b"".join(bundle))
        version = max(installed, trust.version) if trust is not None else installed
        log.info(
            "peer provinces trusted (trust list version %d): %s",
            version,
            " ".join(sorted(peer.province for peer in peers.values())) or "none",
        )
        return Anchors(
            generation=generation,
            version=version,
            not_after=trust.not_after if trust is not None else None,
            peers=MappingProxyType(peers),
            configuration=configuration,
        )


def _usable_cas(entry: ProvinceHubEntry) -> tuple[x509.Certificate, ...]:
    """The CA certificates of a province's peer_ca_pem that are valid now (none: logged)."""
    name = f"province {entry.province}'s peer CA"
    usable: list[x509.Certificate] = []
    problems: list[str] = []
    for certificate in parse_certificates(read_pem(entry.peer_ca_pem, name)):
        if not is_ca(certificate):
            continue
        try:
            check_valid_now(certificate, name)
        except PkiError as error:
            problems.append(str(error))
            continue
        usable.append(certificate)
    if not usable:
        log.warning("%s is left out: %s", name, "; ".join(problems) or "no CA certificate in it")
    return tuple(usable)
