"""Certificates for mutual TLS between stations, people and province hubs.

A development certificate authority (``pki.authority``) issues ECDSA P-256 certificates for three
roles: hubs (server certificates), stations and persons (client certificates whose common name is
the station id or person id the hub trusts them to be). ``pki.grpc_credentials`` turns those PEM
files into gRPC credentials after checking them, so that a wrong file fails here, naming the file,
rather than as an opaque handshake failure on the wire.

Production deployments are expected to use the province's own CA; nothing outside ``pki`` depends
on the dev CA, only on the certificate profile (CN = identity, OU = role).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pki.errors import PkiError
from pki.grpc_credentials import channel_credentials, peer_common_name, server_credentials
from pki.roles import Role

if TYPE_CHECKING:
    from pki.authority import CaFiles, IssuedFiles, init_ca, issue

__all__ = [
    "CaFiles",
    "IssuedFiles",
    "PkiError",
    "Role",
    "channel_credentials",
    "init_ca",
    "issue",
    "peer_common_name",
    "server_credentials",
]


def __getattr__(name: str) -> Any:
    """The CA's names, imported on first use: a station agent imports ``pki.grpc_credentials``
    (and so this package) to read certificates, and has no use for the CA (issue 19)."""
    if name in ("CaFiles", "IssuedFiles", "init_ca", "issue"):
        return getattr(importlib.import_module("pki.authority"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
