"""CSRF protection for every console form.

Signed in, each form carries the session's own CSRF token (a hidden ``csrf`` field), compared in
constant time with the one the server keeps for the session. Before sign-in there is no session,
so the sign-in form uses a double-submit token: a random value set in a cookie and repeated in the
form. The session cookie is SameSite=Strict as well; the tokens do not depend on that.
"""

from __future__ import annotations

import hmac
import secrets

from hub.errors import HubError

FIELD = "csrf"
SIGN_IN_COOKIE = "tj_signin_csrf"


class CsrfRefused(HubError):
    """A form without the right CSRF token: refused with 403, nothing done."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check(expected: str | None, given: object) -> None:
    """Raise ``CsrfRefused`` unless ``given`` (the form field) equals ``expected``."""
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise CsrfRefused("the form's CSRF token is missing or wrong: reload the page and try again")
