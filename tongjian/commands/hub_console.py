"""``tongjian hub console-staff``: the people who sign in to the hub's staff console.

    tongjian hub console-staff issue PERSON_ID --role reviewer|senior-reviewer|registry-clerk|admin [--name NAME]
                                        (prints the password once; re-issuing ends their sessions)
    tongjian hub console-staff revoke PERSON_ID     (removes them; their sessions end)
    tongjian hub console-staff list

The console itself is served by ``tongjian hub serve --console-listen HOST:PORT``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from tongjian.cli import CommandError

ROLES = ("reviewer", "senior-reviewer", "registry-clerk", "admin")


def register(
    actions: argparse._SubParsersAction,
    with_database: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    staff = actions.add_parser(
        "console-staff", help="people who sign in to the staff console (passwords, roles)"
    ).add_subparsers(dest="staff_action", required=True)
    issue = with_database(staff.add_parser("issue", help="issue (or re-issue) a password; printed once"))
    issue.add_argument("person_id")
    issue.add_argument("--role", choices=ROLES, required=True)
    issue.add_argument("--name", default="", help="the person's name, shown beside the id")
    issue.set_defaults(handler=_issue)
    revoke = with_database(staff.add_parser("revoke", help="remove a person; their sessions end"))
    revoke.add_argument("person_id")
    revoke.set_defaults(handler=_revoke)
    listing = with_database(staff.add_parser("list", help="the console's people and roles"))
    listing.set_defaults(handler=_list)


def _issue(args: argparse.Namespace) -> int:
    from hub.console.roles import StaffRole
    from hub.console.staff_directory import StaffDirectory, StaffDirectoryError
    from tongjian.commands.hub import _open

    store = _open(args)
    try:
        password = StaffDirectory(store.database).issue(args.person_id, StaffRole(args.role), args.name)
    except StaffDirectoryError as error:
        raise CommandError(str(error)) from error
    except SQLAlchemyError as error:
        raise CommandError(f"database: {error}") from error
    finally:
        store.dispose()
    print(password)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from hub.console.staff_directory import StaffDirectory
    from tongjian.commands.hub import _open

    store = _open(args)
    try:
        removed = StaffDirectory(store.database).revoke(args.person_id)
    finally:
        store.dispose()
    if not removed:
        raise CommandError(f"no console person {args.person_id!r}")
    print(f"revoked {args.person_id}: their console sessions have ended")
    return 0


def _list(args: argparse.Namespace) -> int:
    from hub.console.staff_directory import StaffDirectory
    from tongjian.commands.hub import _open

    store = _open(args)
    try:
        members = StaffDirectory(store.database).members()
    finally:
        store.dispose()
    for member in members:
        print(f"{member.person_id}\t{member.role.value}\t{member.name}\t{member.issued_at.isoformat()}")
    return 0
