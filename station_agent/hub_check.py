"""Asking the hub whether it will take this station's signatures, and saying why a link failed.

``EnrollmentProbe.check()`` calls ``StationEnrollment.CheckEnrollment`` on the station's own mTLS
identity: the hub answers whether the signing key is enrolled and valid now, and whether the
client certificate's station is the one the agent runs as. The station asks before any lane
opens (``Station``) and again, with backoff, while its uplink is paused on a refused key
(``Uplink``).

gRPC reports every failed connection as UNAVAILABLE with the transport's last error buried in
the details; ``unreachable_from`` turns that into one of a few kinds an operator can act on:
refused (nothing listens: the hub is down or the port is wrong), TLS handshake failed (the
hub's certificate is not signed by our CA, or the hub does not trust our certificate), timed
out (a firewall drops the packets, or the hub is stuck), or a name that does not resolve.

Exceptions::

    HubUnreachable         the check could not reach the hub (kind says how)
    SigningKeyRefused      the hub answered, and refuses the key or the station's identity
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import grpc
import grpc.aio

from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc
from station_agent.errors import StationAgentError

log = logging.getLogger(__name__)


class EnrollmentState(StrEnum):
    ENROLLED = "enrolled"
    UNKNOWN_KEY = "unknown key"
    REVOKED = "revoked key"
    EXPIRED = "expired key"
    NOT_YET_VALID = "key not yet valid"
    STATION_MISMATCH = "station mismatch"


_STATES = {
    ingest_pb2.ENROLLMENT_STATUS_ENROLLED: EnrollmentState.ENROLLED,
    ingest_pb2.ENROLLMENT_STATUS_UNKNOWN_KEY: EnrollmentState.UNKNOWN_KEY,
    ingest_pb2.ENROLLMENT_STATUS_REVOKED: EnrollmentState.REVOKED,
    ingest_pb2.ENROLLMENT_STATUS_EXPIRED: EnrollmentState.EXPIRED,
    ingest_pb2.ENROLLMENT_STATUS_NOT_YET_VALID: EnrollmentState.NOT_YET_VALID,
    ingest_pb2.ENROLLMENT_STATUS_STATION_MISMATCH: EnrollmentState.STATION_MISMATCH,
}


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The hub's answer about one signing key."""

    state: EnrollmentState
    detail: str  # the hub's words, naming the key and what is wrong
    station_id: str  # the station the hub holds the caller to
    authenticated: bool  # False without mTLS: the hub took the request's station id on trust

    @property
    def refused(self) -> bool:
        return self.state is not EnrollmentState.ENROLLED


class UnreachableKind(StrEnum):
    REFUSED = "connection refused"
    TLS_HANDSHAKE = "TLS handshake failed"
    TIMED_OUT = "timed out"
    UNRESOLVED = "name does not resolve"
    UNAVAILABLE = "unavailable"
    UNIMPLEMENTED = "hub does not offer the enrollment check"
    NOT_ALLOWED = "hub refuses this client certificate"


class HubUnreachable(StationAgentError):
    def __init__(self, target: str, kind: UnreachableKind, hint: str = "") -> None:
        super().__init__(f"hub {target}: {kind.value}" + (f" ({hint})" if hint else ""))
        self.target = target
        self.kind = kind
        self.hint = hint


class SigningKeyRefused(StationAgentError):
    """The hub will refuse every record this key signs (or this certificate sends)."""

    def __init__(self, target: str, enrollment: Enrollment) -> None:
        super().__init__(f"hub {target} refuses this station: {enrollment.state.value}: {enrollment.detail}")
        self.target = target
        self.enrollment = enrollment


def unreachable_from(error: grpc.aio.AioRpcError, target: str, tls: bool) -> HubUnreachable:
    """Which way a call failed to reach the hub, from gRPC's status and its transport details."""
    details = error.details() or ""
    lowered = details.lower()
    if error.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
        return HubUnreachable(target, UnreachableKind.TIMED_OUT, "no answer: a firewall, or a stuck hub")
    if error.code() is grpc.StatusCode.UNIMPLEMENTED:
        return HubUnreachable(target, UnreachableKind.UNIMPLEMENTED, "an older hub")
    if error.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        # The hub answered: the connection is fine, the certificate's role is not (hub/access.py).
        return HubUnreachable(target, UnreachableKind.NOT_ALLOWED, details[-240:])
    if "connection refused" in lowered:
        return HubUnreachable(
            target, UnreachableKind.REFUSED, "nothing listens there: hub down or wrong port"
        )
    if "handshake" in lowered or "ssl" in lowered:
        hint = "the hub's certificate is not signed by --ca" if "certificate_verify_failed" in lowered else ""
        return HubUnreachable(target, UnreachableKind.TLS_HANDSHAKE, hint or details[-160:])
    if tls and "socket closed" in lowered:
        # BoringSSL on our side sees only the hub hanging up mid-handshake.
        return HubUnreachable(
            target,
            UnreachableKind.TLS_HANDSHAKE,
            "the hub closed the connection: does it trust the CA of --cert, or does it speak plaintext?",
        )
    if "resolv" in lowered or "dns" in lowered:
        return HubUnreachable(target, UnreachableKind.UNRESOLVED, details[-160:])
    return HubUnreachable(target, UnreachableKind.UNAVAILABLE, f"{error.code().name}: {details[-160:]}")


# When a name resolves to several addresses, the failure that says most about the hub wins: a TLS
# failure means a server answered there; refused only that nothing listens at that address.
_TELLING = (
    UnreachableKind.TLS_HANDSHAKE,
    UnreachableKind.UNAVAILABLE,
    UnreachableKind.TIMED_OUT,
    UnreachableKind.REFUSED,
    UnreachableKind.UNRESOLVED,
)


async def diagnose_connection(
    target: str, credentials: grpc.ChannelCredentials | None, timeout_s: float
) -> HubUnreachable:
    """Why ``target`` does not connect, tried address by address.

    gRPC reports only the last address's error ("last error: ..."), and for ``localhost`` that may
    be ``::1`` refusing while the hub's TLS handshake fails on 127.0.0.1. So each address the name
    resolves to gets its own channel (verifying the certificate against the name as usual) and one
    call that fails fast, and the most telling failure is reported.
    """
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        return HubUnreachable(target, UnreachableKind.UNRESOLVED, str(error))
    addresses = list(dict.fromkeys((info[0], info[4][0]) for info in infos))
    failures: list[HubUnreachable] = []
    for family, address in addresses:
        literal = f"ipv6:[{address}]:{port}" if family == socket.AF_INET6 else f"ipv4:{address}:{port}"
        options = [("grpc.ssl_target_name_override", host), ("grpc.default_authority", target)]
        if credentials is not None:
            channel = grpc.aio.secure_channel(literal, credentials, options=options)
        else:
            channel = grpc.aio.insecure_channel(literal, options=options)
        try:
            stub = ingest_pb2_grpc.StationEnrollmentStub(channel)
            await stub.CheckEnrollment(
                ingest_pb2.EnrollmentRequest(), timeout=timeout_s, wait_for_ready=False
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                failures.append(unreachable_from(error, target, credentials is not None))
                continue
        finally:
            await channel.close(None)
        return HubUnreachable(target, UnreachableKind.TIMED_OUT, f"slow to connect; {address} answers now")
    if not failures:
        return HubUnreachable(target, UnreachableKind.UNRESOLVED, "resolves to no address")
    return min(failures, key=lambda failure: _TELLING.index(failure.kind))


class EnrollmentProbe:
    """Asks a hub about one station's signing key; a fresh channel per check (checks are rare).

    With several hub addresses (replicas) it asks the one that answered last, and the others in
    turn when that one does not answer; ``target`` is the address asked last.
    """

    def __init__(
        self,
        target: str | Sequence[str],
        station_id: str,
        key_id: str,
        channel_credentials: grpc.ChannelCredentials | None,
        timeout_s: float = 5.0,
    ) -> None:
        self.targets = (target,) if isinstance(target, str) else tuple(target)
        if not self.targets:
            raise ValueError("at least one hub address is needed")
        self.target = self.targets[0]
        self.station_id = station_id
        self.key_id = key_id
        self._credentials = channel_credentials
        self._timeout_s = timeout_s

    async def check(self) -> Enrollment:
        """The hub's answer; raises ``HubUnreachable`` when no address gives one."""
        first = self.targets.index(self.target)
        order = self.targets[first:] + self.targets[:first]
        for address in order[:-1]:
            self.target = address
            try:
                return await self._check(address)
            except HubUnreachable as error:
                if error.kind in (UnreachableKind.TLS_HANDSHAKE, UnreachableKind.NOT_ALLOWED):
                    raise  # the station's configuration, not this replica: another says the same
                log.warning("hub %s did not answer (%s); asking the next address", address, error)
        self.target = order[-1]
        return await self._check(order[-1])

    async def _check(self, target: str) -> Enrollment:
        if self._credentials is not None:
            channel = grpc.aio.secure_channel(target, self._credentials)
        else:
            channel = grpc.aio.insecure_channel(target)
        try:
            stub = ingest_pb2_grpc.StationEnrollmentStub(channel)
            try:
                reply = await stub.CheckEnrollment(
                    ingest_pb2.EnrollmentRequest(station_id=self.station_id, key_id=self.key_id),
                    timeout=self._timeout_s,
                )
            except grpc.aio.AioRpcError as error:
                failure = unreachable_from(error, target, self._credentials is not None)
                if error.code() is grpc.StatusCode.UNAVAILABLE:
                    # Only a failed connection needs telling apart address by address.
                    failure = await diagnose_connection(target, self._credentials, self._timeout_s)
                raise failure from error
        finally:
            await channel.close(None)
        state = _STATES.get(reply.status)
        if state is None:
            raise HubUnreachable(
                target, UnreachableKind.UNAVAILABLE, f"unknown enrollment status {reply.status}"
            )
        return Enrollment(state, reply.detail, reply.station_id, reply.authenticated)


async def check_enrollment_at_start(probe: EnrollmentProbe) -> Enrollment | None:
    """Raises ``SigningKeyRefused`` when the hub refuses the key or the station's identity, and
    ``HubUnreachable`` when the TLS handshake fails or the hub refuses the certificate's role
    (configuration errors that will not go away).

    A hub that is merely down or slow is no reason to stop a station: it inspects on and queues,
    and the uplink pauses if the hub turns out to refuse the key once it answers. Returns the
    hub's answer, or None when there was none.
    """
    try:
        enrollment = await probe.check()
    except HubUnreachable as error:
        if error.kind in (UnreachableKind.TLS_HANDSHAKE, UnreachableKind.NOT_ALLOWED):
            raise
        log.warning(
            "could not check signing key %s with the hub: %s; starting anyway, records queue in the outbox "
            "and the uplink pauses if the hub refuses the key",
            probe.key_id,
            error,
        )
        return None
    if enrollment.refused:
        raise SigningKeyRefused(probe.target, enrollment)
    if not enrollment.authenticated:
        log.warning(
            "!!! the hub cannot authenticate this station without mTLS (--insecure): it took station id %s "
            "from the request, no certificate vouches for it !!!",
            enrollment.station_id,
        )
    log.info("hub %s: %s (station %s)", probe.target, enrollment.detail, enrollment.station_id)
    return enrollment
