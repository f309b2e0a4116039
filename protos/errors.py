"""Every error the contracts package raises, under one root.

    ProtosError                         a contract-side refusal
    ├── MalformedRecord                 (also ValueError) record bytes that cannot be a valid record:
    │                                   path, reason                    (protos.record_mapping)
    ├── InvalidKey                      (also ValueError) key material that is not an Ed25519 key in
    │                                   the expected encoding           (protos.envelope)
    ├── DocumentSignatureInvalid        a signed document whose key id or signature does not hold
    │                                   for the trusted key: what, key_id, reason
    │                                                                   (protos.signed_document)
    ├── MalformedDocument               (also ValueError) bytes that are not a SignedDocument:
    │                                   what, reason                    (protos.signed_document)
    └── PortInUse                       (also OSError) a gRPC server cannot bind its address:
                                        address                         (protos.server_port)

Each keeps the builtin base it had, so callers that caught ``ValueError`` / ``OSError`` still do.
"""

from __future__ import annotations


class ProtosError(Exception):
    """The root of the contracts package's errors (see the tree above)."""
