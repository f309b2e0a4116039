"""Serving our web pages: what the hub's staff console (``hub.console``) and the station's PDA page
(``station_agent.pda_web``) both need and neither owns.

The hub and the station agent may not import each other (tests/test_package_structure.py), so what
their two web front ends share lives here, once:

- ``asgi_server``: an ASGI application served by uvicorn inside an event loop that is already
  running, on a socket bound here (port 0 gives the bound port), HTTPS when given a certificate;
- ``sign_in_throttle``: the sign-in delay policy, growing delays per person id and per client
  address after a few failed sign-ins, and optionally a lockout the caller keeps;
- ``errors``: this package's errors, as one tree.

It imports nothing of ours. Nothing is re-exported here: importing the package must not load
uvicorn for a caller that only wants the throttle.
"""
