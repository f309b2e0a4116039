"""Who may call what on the hub: one table from RPC to the certificate roles it accepts.

The role is the verified client certificate's subject OU (``pki.roles.Role``, read by
``pki.grpc_credentials.peer_role``); the common name then says which station or person it is.
Deny by default: an RPC that is not in ``RPC_ROLES`` is refused to every role, and a certificate
without exactly one known role is refused everything. Health checks and server reflection stay
open to any client the TLS handshake admitted (load balancers and grpcurl carry no role).

Adding an RPC is one line in ``RPC_ROLES``.

Every refusal is audited (``access_refused``: method, role and person) when the gate is given an
audit sink (the hub's ``HubStore.append_audit``); a refusal stands even if the audit write fails.

Only served with TLS: a plaintext hub (tests, demos; ``--insecure``) knows no roles.

Which CA vouches for a role matters: with federation the hub's TLS server also trusts every peer
province's CA (to admit their ``peer-hub`` certificates), so a peer CA could issue a certificate
saying ``reviewer`` or ``station``. Given ``home_cas`` (the hub's own client CA bundle), the gate
takes every role but ``peer-hub`` only from a certificate one of those CAs issued. Given
``peer_hubs`` (``hub.peer_trust_anchors.PeerTrustAnchors.check_peer_hub``), a ``peer-hub``
certificate must be one the trust list in force vouches for at the time of the call: its common
name a province hub's peer name, issued by the CA the list names for that province. So a province
removed from the list, or whose CA the list replaced, is refused (and audited) on its next call,
even on a connection its old certificate opened before the change.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from cryptography import x509
from sqlalchemy.exc import SQLAlchemyError

from hub.audit import AuditEntry
from pki.grpc_credentials import (
    CertificateRoleError,
    issued_by_any,
    peer_certificate,
    peer_common_name,
    peer_role,
)
from pki.roles import Role

log = logging.getLogger(__name__)

_STATION_ONLY = frozenset({Role.STATION})
_REVIEWERS = frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER})
_PEER_HUBS = frozenset({Role.PEER_HUB})
_CLERKS = frozenset({Role.REGISTRY_CLERK})

RPC_ROLES: Mapping[str, frozenset[Role]] = {
    "/tongjian.v1.StationIngest/Submit": _STATION_ONLY,
    "/tongjian.v1.StationEnrollment/CheckEnrollment": _STATION_ONLY,
    "/tongjian.v1.StationNotices/Fetch": _STATION_ONLY,
    "/tongjian.v1.Review/ListQueue": _REVIEWERS,
    "/tongjian.v1.Review/Claim": _REVIEWERS,
    "/tongjian.v1.Review/Show": _REVIEWERS,
    "/tongjian.v1.Review/Decide": _REVIEWERS,
    "/tongjian.v1.Review/Stats": _REVIEWERS,
    # Public keys and a signed list: any holder of a certificate of ours may fetch them.
    "/tongjian.v1.Labels/GetLabelKeys": frozenset(Role),
    "/tongjian.v1.Labels/GetRevocationList": frozenset(Role),
    # An owner applies through the province's online service, which holds a person certificate.
    "/tongjian.v1.Labels/ApplyExemption": frozenset({Role.PERSON}),
    "/tongjian.v1.PeerExchange/Forward": _PEER_HUBS,
    "/tongjian.v1.PeerExchange/FetchTrustList": _PEER_HUBS,
    "/tongjian.v1.PeerExchange/FetchDirectory": _PEER_HUBS,
    "/tongjian.v1.PeerExchange/Witness": _PEER_HUBS,
    "/tongjian.v1.PeerExchange/GetExemptionFacts": _PEER_HUBS,
    "/tongjian.v1.PeerExchange/RecordExemptionLabel": _PEER_HUBS,
    # Archive transfers (hub.archive_exchange, hub.archive_transfer_service).
    "/tongjian.v1.ArchiveExchange/Offer": _PEER_HUBS,
    "/tongjian.v1.ArchiveExchange/Fetch": _PEER_HUBS,
    "/tongjian.v1.ArchiveExchange/Conclude": _PEER_HUBS,
    "/tongjian.v1.ArchiveTransfer/Request": _CLERKS,
    "/tongjian.v1.ArchiveTransfer/Status": _CLERKS,
    "/tongjian.v1.ArchiveTransfer/Follow": _CLERKS,
    "/tongjian.v1.ArchiveTransfer/CheckIdentity": _CLERKS,
    "/tongjian.v1.ArchiveTransfer/Accept": _CLERKS,
    "/tongjian.v1.ArchiveTransfer/Refuse": _CLERKS,
}

AuditSink = Callable[[Sequence[AuditEntry]], None]
# (common name, certificate) of a peer-hub caller -> why it is refused, or None to admit it.
PeerHubCheck = Callable[[str | None, x509.Certificate | None], Awaitable[str | None]]


def refusal_entry(method: str, person: str | None, role: str | None, why: str) -> AuditEntry:
    """The audit entry for a refused call: method, role and person, and why."""
    return AuditEntry(
        "access_refused",
        f"{method} refused to {person or 'an unnamed caller'} (role {role or 'none'}): {why}",
    )


async def audit_refusal(sink: AuditSink | None, entry: AuditEntry) -> None:
    if sink is None:
        return
    try:
        await asyncio.to_thread(sink, [entry])
    except SQLAlchemyError:
        log.exception("could not audit a refused call: %s", entry.detail)


OPEN_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


# grpc-stubs make the interceptor generic; the runtime class is not subscriptable.
if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


def service_of(method: str) -> str:
    """``/pkg.Service/Method`` -> ``pkg.Service``."""
    return method.lstrip("/").partition("/")[0]


class RoleGate(_ServerInterceptor):
    """Admits each call by ``table`` before its handler runs; refusals name role and method."""

    def __init__(
        self,
        table: Mapping[str, frozenset[Role]],
        audit: AuditSink | None = None,
        home_cas: Sequence[x509.Certificate] = (),
        peer_hubs: PeerHubCheck | None = None,
    ) -> None:
        self._table = dict(table)
        self._audit = audit
        self._home_cas = tuple(home_cas)
        self._peer_hubs = peer_hubs

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or service_of(method) in OPEN_SERVICES:
            return handler
        return _guarded(
            handler,
            method,
            _Admission(self._table.get(method, frozenset()), self._audit, self._home_cas, self._peer_hubs),
        )


@dataclass(frozen=True, slots=True)
class _Admission:
    """What a call to one method must satisfy."""

    allowed: frozenset[Role]
    audit: AuditSink | None
    home_cas: tuple[x509.Certificate, ...]
    peer_hubs: PeerHubCheck | None


async def _admit(context: grpc.aio.ServicerContext[Any, Any], method: str, admission: _Admission) -> None:
    allowed, audit, home_cas = admission.allowed, admission.audit, admission.home_cas
    person = peer_common_name(context)
    try:
        role = peer_role(context)
    except CertificateRoleError as error:
        await audit_refusal(audit, refusal_entry(method, person, None, str(error)))
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{method}: {error}")
    if role is None:
        await audit_refusal(audit, refusal_entry(method, None, None, "no client certificate"))
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{method}: no client certificate")
    if role not in allowed:
        accepted = ", ".join(sorted(r.value for r in allowed)) or "no role"
        why = f"{method} is not open to role {role.value!r} (it accepts: {accepted})"
        await audit_refusal(audit, refusal_entry(method, person, role.value, why))
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
    if home_cas and role is not Role.PEER_HUB:
        certificate = peer_certificate(context)
        if certificate is None or not issued_by_any(certificate, home_cas):
            why = (
                f"{method}: a {role.value!r} certificate must be issued by this hub's own CA "
                f"(this one was issued by {certificate.issuer.rfc4514_string() if certificate else 'nobody'})"
            )
            await audit_refusal(audit, refusal_entry(method, person, role.value, why))
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
    if admission.peer_hubs is not None and role is Role.PEER_HUB:
        refused = await admission.peer_hubs(person, peer_certificate(context))
        if refused is not None:
            why = f"{method}: {refused}"
            await audit_refusal(audit, refusal_entry(method, person, role.value, why))
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, why)


def _guarded(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, admission: _Admission
) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.request_streaming and handler.response_streaming:
        inner, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        inner, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        inner, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler
    if inner is None:  # grpc fills the behaviour its streaming flags name; anything else is a bug
        raise TypeError(f"{method}: the handler has no behaviour for its streaming kind")
    # grpc-stubs type the behaviours as sync callables; on a grpc.aio server they are coroutine
    # functions or async generator functions.
    behaviour_of_handler: Callable[..., Any] = inner

    if inspect.isasyncgenfunction(behaviour_of_handler):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            await _admit(context, method, admission)
            async for response in behaviour_of_handler(request, context):
                yield response

        behaviour: Callable[..., Any] = streaming
    else:

        async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await _admit(context, method, admission)
            return await behaviour_of_handler(request, context)

        behaviour = single
    return make(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
