"""Every error ``pki`` raises on purpose, under one root.

::

    PkiError
    ├── PemFileError               a certificate or key (file, or bytes named by their argument)
    │                              that cannot be used: ``path`` and ``reason``
    ├── CertificateRoleError       a certificate whose subject OU does not name exactly one known role
    └── InvalidCertificateRequest  a name, address or lifetime the CA will not put in a certificate

Edges: the CLI (``tongjian pki``, and every command taking TLS files) prints a ``PkiError`` as one
line; the hub's role gate answers a ``CertificateRoleError`` with gRPC PERMISSION_DENIED.
"""

from __future__ import annotations

import os


class PkiError(Exception):
    """Root of pki's errors; the message says what was wrong and where."""


class PemFileError(PkiError):
    """A certificate or key file that cannot be used, and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class CertificateRoleError(PkiError):
    """A certificate whose subject does not name exactly one known role in its OU."""


class InvalidCertificateRequest(PkiError):
    """A name, address or lifetime the CA refuses to issue; the message quotes the value."""
