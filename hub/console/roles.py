"""Who may use which console page: one table from a permission to the staff roles holding it.

The roles are the hub's certificate roles for people (``pki.roles.Role``), so a person has the
same role in the console as in a client certificate. Deny by default: a permission not in
``PERMISSIONS`` is held by nobody. A refusal is a 403 page and an ``access_refused`` audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from hub.review_states import ReviewActor
from pki.roles import Role


class StaffRole(StrEnum):
    REVIEWER = Role.REVIEWER.value
    SENIOR_REVIEWER = Role.SENIOR_REVIEWER.value
    REGISTRY_CLERK = Role.REGISTRY_CLERK.value
    ADMIN = Role.ADMIN.value


ROLE_TITLES: Mapping[StaffRole, str] = {
    StaffRole.REVIEWER: "审核员 Reviewer",
    StaffRole.SENIOR_REVIEWER: "高级审核员 Senior reviewer",
    StaffRole.REGISTRY_CLERK: "登记员 Registry clerk",
    StaffRole.ADMIN: "管理员 Admin",
}


class Permission(StrEnum):
    DASHBOARD = "dashboard"
    REVIEW = "review"  # see the queue, claim, decide
    VEHICLES = "vehicles"  # search by VIN or plate, see a vehicle's inspections
    LABELS = "labels"  # see a label and its QR code
    REVOKE_LABEL = "revoke_label"
    STATIONS = "stations"  # stations and their keys
    REVOKE_KEY = "revoke_key"
    TRANSFERS = "transfers"  # archive transfers in and out: request, identity check, accept, refuse


_ALL = frozenset(StaffRole)
_REVIEWERS = frozenset({StaffRole.REVIEWER, StaffRole.SENIOR_REVIEWER})

PERMISSIONS: Mapping[Permission, frozenset[StaffRole]] = {
    Permission.DASHBOARD: _ALL,
    Permission.REVIEW: _REVIEWERS,
    Permission.VEHICLES: _ALL,
    Permission.LABELS: _ALL,
    # A label is revoked by the registry (a clerk) or by a senior reviewer's decision.
    Permission.REVOKE_LABEL: frozenset(
        {StaffRole.REGISTRY_CLERK, StaffRole.SENIOR_REVIEWER, StaffRole.ADMIN}
    ),
    Permission.STATIONS: frozenset({StaffRole.ADMIN}),
    Permission.REVOKE_KEY: frozenset({StaffRole.ADMIN}),
    # The register moves a vehicle: its clerks (the same role the gRPC ArchiveTransfer service takes).
    Permission.TRANSFERS: frozenset({StaffRole.REGISTRY_CLERK}),
}

_ACTORS = {StaffRole.REVIEWER: ReviewActor.REVIEWER, StaffRole.SENIOR_REVIEWER: ReviewActor.SENIOR_REVIEWER}


def allowed(role: StaffRole, permission: Permission) -> bool:
    return role in PERMISSIONS.get(permission, frozenset())


def review_actor(role: StaffRole) -> ReviewActor | None:
    """The review queue's actor for a role; None for roles that do not review."""
    return _ACTORS.get(role)
