"""gRPC credentials for mutual TLS, from PEM files checked before gRPC ever sees them.

gRPC reports a bad certificate or a key that belongs to another certificate only as a failed
handshake, or not at all until the first connection. Each function here loads and checks its
inputs first (readable, valid PEM, key matches certificate, certificate valid now) and raises
``PkiError`` naming the file otherwise.

Each PEM argument is a ``Path`` to read or the PEM ``bytes`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from pki.errors import CertificateRoleError, PemFileError, PkiError
from pki.pem_files import (
    PemSource,
    check_key_matches,
    check_valid_now,
    is_ca,
    parse_certificates,
    parse_private_key,
    read_pem,
)
from pki.roles import Role, certificate_role

__all__ = [
    "CertificateRoleError",
    "PkiError",
    "channel_credentials",
    "issued_by_any",
    "peer_certificate",
    "peer_common_name",
    "peer_role",
    "reloading_server_credentials",
    "server_certificate_configuration",
    "server_credentials",
    "server_identity",
    "server_only_channel_credentials",
    "server_tls_credentials",
]

# The auth-context properties gRPC's TLS transport fills from the verified peer certificate.
_COMMON_NAME_PROPERTY = "x509_common_name"
_PEM_CERT_PROPERTY = "x509_pem_cert"


def server_credentials(
    cert_pem: PemSource, key_pem: PemSource, client_ca_pem: PemSource
) -> grpc.ServerCredentials:
    """TLS server credentials that demand a client certificate signed by ``client_ca_pem``."""
    cert, key = _identity(cert_pem, key_pem)
    client_ca = _trust_anchors(client_ca_pem, "client_ca_pem")
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=True)


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """A server's certificate chain and private key, checked to belong together and to be valid."""

    cert_pem: bytes
    key_pem: bytes


def server_identity(cert_pem: PemSource, key_pem: PemSource) -> ServerIdentity:
    """The server's certificate and key, checked once (a server whose client CAs change while it
    runs builds many configurations from one identity)."""
    cert, key = _identity(cert_pem, key_pem)
    return ServerIdentity(cert, key)


def server_certificate_configuration(
    identity: ServerIdentity, client_ca_pem: PemSource
) -> grpc.ServerCertificateConfiguration:
    """One configuration of a TLS server whose client CAs may change: ``identity``, and client
    certificates signed by ``client_ca_pem`` (checked as ``server_credentials`` checks it)."""
    client_ca = _trust_anchors(client_ca_pem, "client_ca_pem")
    return grpc.ssl_server_certificate_configuration(
        [(identity.key_pem, identity.cert_pem)], root_certificates=client_ca
    )


def reloading_server_credentials(
    initial: grpc.ServerCertificateConfiguration,
    fetch: Callable[[], grpc.ServerCertificateConfiguration | None],
) -> grpc.ServerCredentials:
    """TLS server credentials that demand a client certificate and may change while serving.

    gRPC calls ``fetch`` on one of its own threads before every new connection's handshake: it
    returns a configuration to use from then on, or None to keep the one in force. It must be
    quick and must not block (no database, no event loop); if it raises, gRPC logs the error and
    keeps the configuration in force. Connections already open keep what they were admitted with.
    """
    # grpc-stubs type the fetcher as never returning None; gRPC's own docs say None = unchanged.
    fetcher = cast(Callable[[], grpc.ServerCertificateConfiguration], fetch)
    return grpc.dynamic_ssl_server_credentials(initial, fetcher, require_client_authentication=True)


def server_tls_credentials(cert_pem: PemSource, key_pem: PemSource) -> grpc.ServerCredentials:
    """TLS server credentials without client certificates: for services whose callers prove who
    they are inside the call (the PDA lane service's session tokens)."""
    cert, key = _identity(cert_pem, key_pem)
    return grpc.ssl_server_credentials([(key, cert)])


def server_only_channel_credentials(ca_pem: PemSource) -> grpc.ChannelCredentials:
    """TLS channel credentials that trust servers signed by ``ca_pem`` and present no certificate."""
    return grpc.ssl_channel_credentials(root_certificates=_trust_anchors(ca_pem, "ca_pem"))


def channel_credentials(
    ca_pem: PemSource, cert_pem: PemSource, key_pem: PemSource
) -> grpc.ChannelCredentials:
    """TLS channel credentials: trust servers signed by ``ca_pem``, present ``cert_pem`` as the client."""
    ca = _trust_anchors(ca_pem, "ca_pem")
    cert, key = _identity(cert_pem, key_pem)
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def peer_common_name(context: Any) -> str | None:
    """The subject CN of the peer's verified certificate, or None on a connection without one.

    ``context`` is a ``grpc.ServicerContext`` or ``grpc.aio.ServicerContext``. gRPC fills the
    auth context only from a certificate that passed verification against the server's client CA.
    """
    names = context.auth_context().get(_COMMON_NAME_PROPERTY)
    if not names:
        return None
    return bytes(names[0]).decode("utf-8", errors="replace")


def peer_role(context: Any) -> Role | None:
    """The role (subject OU) of the peer's verified certificate, or None on a connection without
    one; raises ``CertificateRoleError`` for a certificate that names no single known role."""
    pems = context.auth_context().get(_PEM_CERT_PROPERTY)
    if not pems:
        return None
    return certificate_role(x509.load_pem_x509_certificate(bytes(pems[0])))


def peer_certificate(context: Any) -> x509.Certificate | None:
    """The peer's verified leaf certificate, or None on a connection without one."""
    pems = context.auth_context().get(_PEM_CERT_PROPERTY)
    if not pems:
        return None
    return x509.load_pem_x509_certificate(bytes(pems[0]))


def issued_by_any(certificate: x509.Certificate, authorities: Sequence[x509.Certificate]) -> bool:
    """Whether one of ``authorities`` signed ``certificate`` directly (our CAs issue leaves directly)."""
    for authority in authorities:
        try:
            certificate.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _identity(cert_source: PemSource, key_source: PemSource) -> tuple[bytes, bytes]:
    """Certificate chain and key bytes, once they are known to belong together and to be valid now."""
    cert_pem = read_pem(cert_source, "cert_pem")
    key_pem = read_pem(key_source, "key_pem")
    certificate = parse_certificates(cert_pem)[0]
    check_key_matches(certificate, cert_pem.name, parse_private_key(key_pem), key_pem.name)
    check_valid_now(certificate, cert_pem.name)
    return cert_pem.data, key_pem.data


def _trust_anchors(source: PemSource, label: str) -> bytes:
    pem = read_pem(source, label)
    certificates = parse_certificates(pem)
    for certificate in certificates:
        check_valid_now(certificate, pem.name)
    if not any(is_ca(certificate) for certificate in certificates):
        raise PemFileError(pem.name, "holds no CA certificate (basicConstraints CA:TRUE) to trust")
    return pem.data
