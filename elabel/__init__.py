"""Electronic inspection and exemption labels (电子检验合格标志): the token a hub signs and a
roadside officer checks with no network.

A label is a CWT (RFC 8392) in a COSE_Sign1 (RFC 9052) signed EdDSA with the issuing hub's Ed25519
key, zlib-compressed and written as base45 after the prefix ``TJ1:`` (the EU digital COVID
certificate's layout), so any COSE library can check it; docs/labels.md is the format for third
parties. Each hub also signs a revocation list in the same envelope.

Nothing here touches a database: the verifier works from a cached trust list of hub label keys and
each hub's revocation list (``elabel.trust_cache``), so it runs offline.

Modules: ``claims`` (what a label says), ``keys`` (a hub's signing key and its key id),
``envelope`` (the signed COSE_Sign1 both share), ``label_text`` (sign and open the text), ``revocation`` (the signed list), ``trust_cache`` (the offline
file), ``verifier`` (why a label is good or bad), ``picture`` (the PNG with QR code and fields).
"""

from elabel.errors import LabelError

__all__ = ["LabelError"]
