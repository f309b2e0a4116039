"""Every error of the e-label package, under one root.

LabelError                      the label package refused something
├── LabelInvalid                a label that does not verify: ``fault`` (a ``LabelFault``) says
│                               why (forged, altered, expired, ...), the message the detail
├── ClaimsError                 (also ValueError) a signed claims map that is not a label's or a
│                               list's: names the claim (the verifier reports it as altered)
├── EnvelopeDamaged             (also ValueError) bytes that are not a COSE_Sign1 of ours
│                               (elabel.envelope; the verifier reports it as altered)
├── SignatureMismatch           (also ValueError) a signature that is not the given key's
│                               (elabel.envelope; the verifier reports it as forged)
├── RevocationListInvalid       a revocation list that is damaged, unsigned by its hub or
│                               of another hub than claimed
├── TrustCacheError             the offline cache file is missing, unreadable or malformed;
│                               names the file and what is wrong
└── PictureError                a PNG that cannot be read or holds no label QR code; names the file
"""

from __future__ import annotations

from enum import StrEnum


class LabelError(Exception):
    """The root of the e-label package's errors (see the tree above)."""


class LabelFault(StrEnum):
    """Why a label is bad, in the words a roadside check prints."""

    ALTERED = "altered"  # the text does not decode: prefix, base45, zlib, CBOR or COSE broken
    FORGED = "forged"  # decodes, but the signature is not the named hub key's, or claims another hub
    UNKNOWN_ISSUER = "unknown issuer"  # the key id is not in the trust list
    NOT_YET_VALID = "not yet valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WRONG_VEHICLE = "wrong vehicle"


class LabelInvalid(LabelError):
    def __init__(self, fault: LabelFault, detail: str) -> None:
        super().__init__(f"{fault.value}: {detail}")
        self.fault = fault
        self.detail = detail


class ClaimsError(LabelError, ValueError):
    """A claims map that is not what it should be; the message names the claim."""


class EnvelopeDamaged(LabelError, ValueError):
    """Bytes that are not a COSE_Sign1 with our protected header; the message says what broke."""


class SignatureMismatch(LabelError, ValueError):
    """The signature is not the given key's over these bytes."""


class RevocationListInvalid(LabelError):
    """A revocation list that does not decode or verify; the message says which and why."""


class TrustCacheError(LabelError):
    """The offline trust cache cannot be used; the message names the file and the problem."""


class PictureError(LabelError):
    """A label picture that cannot be read or decoded; the message names the file."""
