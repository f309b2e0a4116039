"""The certificate profile's roles: what a holder is, read from its certificate's subject OU.

Apart from ``pki.authority`` (the development CA that writes them) because every server and the
station agent read roles, and only ``tongjian pki`` issues certificates: a running agent need not
load the CA (issue 19: the agent's footprint).
"""

from __future__ import annotations

import enum

from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.errors import CertificateRoleError


class Role(enum.StrEnum):
    """What a certificate's holder is, written into its subject OU (one OU, exactly one role).

    The OU, not the extended key usage, is authoritative: EKU says only client or server, and a
    station and a person are both clients. Servers read it with ``certificate_role`` and admit
    each RPC by a table of roles (the hub's is ``hub.access.RPC_ROLES``).
    """

    HUB = "hub"
    STATION = "station"
    PERSON = "person"
    REVIEWER = "reviewer"  # reviews records flagged at the hub
    SENIOR_REVIEWER = "senior-reviewer"  # decides what a reviewer escalated
    REGISTRY_CLERK = "registry-clerk"  # maintains the station directory
    ADMIN = "admin"  # operates the hub
    PEER_HUB = "peer-hub"  # another province's hub, client and server to this one
    LANE_SERVICE = "lane-service"  # a station's PDA lane service (server only)


def certificate_role(certificate: x509.Certificate) -> Role:
    """The role in ``certificate``'s subject OU; raises ``CertificateRoleError`` naming what is wrong."""
    units = [
        attribute.value
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    if len(units) != 1:
        raise CertificateRoleError(
            f"certificate {certificate.subject.rfc4514_string()!r} has {len(units)} OUs; "
            "exactly one naming its role is required"
        )
    unit = str(units[0])
    try:
        return Role(unit)
    except ValueError:
        raise CertificateRoleError(
            f"certificate OU {unit!r} is not a role (one of {', '.join(r.value for r in Role)})"
        ) from None
