"""Every error ``web_serving`` raises, under one root. The errors live beside the code that raises
them; each caller translates them at its own boundary (the hub into ``HubConfigError`` or a 429
page, the station agent into its ``HttpServerError`` or a ``PdaRefused``).

::

    WebServingError
    ├── HttpServerError    an ASGI server could not listen or did not start: what, address, why (asgi_server)
    └── SignInDelayed      a sign-in refused unchecked after repeated failures: which key (KeyKind),
                           how long to wait (sign_in_throttle)
"""

from __future__ import annotations


class WebServingError(Exception):
    """Root of the errors ``web_serving`` raises; the message says what went wrong and where."""
